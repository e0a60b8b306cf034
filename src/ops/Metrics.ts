/**
 * A node's metrics, for `GET /metrics` (Prometheus text format).
 *
 * Two sources, one exposition:
 * - what the observability seam already counts (Raft's `status`, `counters` and `sizes`, the storage's
 *   and the transport's `counters`) is read at scrape time: those counters live in the shell of each
 *   layer as plain numbers, so that the protocol code does not depend on a metrics library;
 * - what has to be observed as it happens (request counts by operation and outcome, request latency,
 *   fsync latency) is an Effect `Metric` (counter, histogram), updated where it happens and labelled
 *   with the node's id through `Effect.tagMetrics`, so that several nodes in one process keep apart.
 * Durations come from `Clock`, never the wall clock.
 * @since 0.1.0
 */
import { Cause, Effect, Exit, Metric, MetricBoundaries, MetricKey, MetricLabel } from "effect"
import * as Bound from "../internal/metrics.js"
import type { LogStorageShape } from "../raft/LogStorage.js"
import type { RaftShape } from "../raft/Raft.js"
import * as Tcp from "../rpc/Tcp.js"
import type { AnyRequest, Handlers, Protocol, ServeOptions, TransportShape } from "../rpc/Transport.js"
import * as Prometheus from "./Prometheus.js"

/** The label every metric of a node carries: its id. */
export const NODE_LABEL = "node"

/** Requests a service served (the KV, controller and shard protocols), by service, operation and outcome. */
export const requestsKey = MetricKey.counter("concord_requests_total", {
  description: "Client requests served, by service, operation and outcome (ok, or the error's tag)"
})
export const requests = Metric.fromMetricKey(requestsKey)

/** Time to serve a request, in seconds, by service and operation. */
export const requestSecondsKey = MetricKey.histogram(
  "concord_request_duration_seconds",
  MetricBoundaries.exponential({ start: 0.0005, factor: 2, count: 14 }),
  "Time from a request's arrival to its answer, by service and operation"
)
export const requestSeconds = Metric.fromMetricKey(requestSecondsKey)

const opOf = (request: AnyRequest): string => {
  const op = (request as { readonly op?: unknown }).op
  return typeof op === "string" ? op : request._tag
}

const outcomeOf = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return "ok"
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "Some") {
    const tag = (failure.value as { readonly _tag?: unknown })?._tag
    return typeof tag === "string" ? tag : "error"
  }
  return Cause.isInterruptedOnly(exit.cause) ? "interrupted" : "defect"
}

/**
 * The transport with every handler the service serves on it counted and timed (`requests`,
 * `requestSeconds`): the service's code is unchanged, and every service is counted the same way.
 * The operation is the request's `op` field when it has one (a KV write: put, append, delete), else its
 * tag. `labels` go on every series (a node's id: `Bound.currentLabels` under `Effect.tagMetrics`);
 * each label set's metrics are bound once (see `internal/metrics.ts`: a tagged update costs a new key).
 */
export const instrument = <T extends TransportShape>(transport: T, labels: ReadonlyArray<MetricLabel.MetricLabel> = []): T => {
  const bound = new Map<string, { readonly count: Bound.Bound; readonly seconds: Bound.Bound }>()
  const metricsFor = (service: string, op: string, outcome: string) => {
    const key = `${service}\u0000${op}\u0000${outcome}`
    let m = bound.get(key)
    if (m === undefined) {
      const service_ = MetricLabel.make("service", service)
      const op_ = MetricLabel.make("op", op)
      m = {
        count: Bound.bind(requestsKey, [...labels, service_, op_, MetricLabel.make("outcome", outcome)]),
        seconds: Bound.bind(requestSecondsKey, [...labels, service_, op_])
      }
      bound.set(key, m)
    }
    return m
  }
  return {
    ...transport,
    serve: <Req extends AnyRequest, R>(protocol: Protocol<Req>, handlers: Handlers<Req, R>, options?: ServeOptions<Req>) => {
      // A request answered by the deadline is counted with the failure it was answered with (its
      // handler is interrupted after).
      const timedOut = new WeakMap<object, string>()
      const deadline = options?.deadline
      const served: ServeOptions<Req> | undefined = deadline === undefined ? options : {
        ...options,
        deadline: {
          ms: deadline.ms,
          onTimeout: (request) => {
            const failure = deadline.onTimeout(request)
            const tag = (failure as { readonly _tag?: unknown } | undefined)?._tag
            if (failure !== undefined) timedOut.set(request, typeof tag === "string" ? tag : "error")
            return failure
          }
        }
      }
      const wrapped: Record<string, (request: any) => Effect.Effect<any, any, R>> = {}
      for (const [tag, handler] of Object.entries(handlers as Record<string, (request: any) => Effect.Effect<any, any, R>>)) {
        wrapped[tag] = (request: AnyRequest) =>
          Effect.clockWith((clock) => {
            const start = clock.unsafeCurrentTimeNanos()
            return Effect.onExit(handler(request), (exit) =>
              Effect.sync(() => {
                const m = metricsFor(protocol.name, opOf(request), timedOut.get(request) ?? outcomeOf(exit))
                m.count.update(1)
                m.seconds.update(Number(clock.unsafeCurrentTimeNanos() - start) / 1e9)
              }))
          })
      }
      return transport.serve(protocol, wrapped as unknown as Handlers<Req, R>, served)
    }
  }
}

/** What a node's metrics are read from. */
export interface Sources {
  readonly id: string
  readonly raft: RaftShape
  readonly storage: LogStorageShape
  readonly transport: Tcp.TcpTransport
  /** The service's applied index (its state machine's, which may trail Raft's hand-over). */
  readonly applied: Effect.Effect<number>
}

const ROLES = ["Follower", "PreCandidate", "Candidate", "Leader"] as const

/** Every family of the node's metrics, the seam's values read now. */
export const collect = (s: Sources): Effect.Effect<Array<Prometheus.Family>> =>
  Effect.gen(function*() {
    const node = { [NODE_LABEL]: s.id }
    const status = yield* s.raft.status
    const raft = yield* s.raft.counters
    const sizes = yield* s.raft.sizes
    const storage = yield* s.storage.counters
    const transport = yield* s.transport.counters
    const peers = yield* s.transport.peerCounters
    const applied = yield* s.applied
    const one = (name: string, type: "counter" | "gauge", help: string, value: number): Prometheus.Family => ({
      name,
      type,
      help,
      samples: [{ labels: node, value }]
    })
    const perPeer = (name: string, help: string, pick: (c: Tcp.PeerCounters) => number): Prometheus.Family => ({
      name,
      type: "counter",
      help,
      samples: [...peers].map(([peer, c]) => ({ labels: { ...node, peer }, value: pick(c) }))
    })
    const sampled: Array<Prometheus.Family> = [
      one("concord_raft_term", "gauge", "Current Raft term", status.term),
      {
        name: "concord_raft_role",
        type: "gauge",
        help: "1 for this node's current Raft role, 0 for the others",
        samples: ROLES.map((role) => ({ labels: { ...node, role }, value: status.role === role ? 1 : 0 }))
      },
      one("concord_raft_has_leader", "gauge", "1 if this node knows a leader, else 0", status.leader === null ? 0 : 1),
      one("concord_raft_leader_changes_total", "counter", "Times the leader this node knows changed", raft.leaderChanges),
      one("concord_raft_elections_total", "counter", "Campaigns this node started (pre-vote rounds included)", raft.elections),
      one("concord_raft_proposals_total", "counter", "Proposals this node accepted as leader", raft.proposals),
      one("concord_raft_commit_index", "gauge", "Highest log index known to be committed", status.commit),
      one("concord_raft_applied_index", "gauge", "Highest log index the service's state machine has applied", applied),
      one("concord_raft_applied_entries_total", "counter", "Committed entries handed to the state machine", raft.applied),
      one("concord_raft_last_index", "gauge", "Last index in this node's log", status.lastIndex),
      one("concord_raft_snapshot_index", "gauge", "Index of this node's latest snapshot", status.snapshotIndex),
      one("concord_raft_append_entries_sent_total", "counter", "AppendEntries requests sent (heartbeats not included)", raft.appendEntriesSent),
      one("concord_raft_append_entries_received_total", "counter", "AppendEntries requests received", raft.appendEntriesReceived),
      one("concord_raft_append_entries_rejected_total", "counter", "AppendEntries this node sent that a follower rejected", raft.appendEntriesRejected),
      one("concord_raft_heartbeats_sent_total", "counter", "Heartbeats sent", raft.heartbeatsSent),
      one("concord_raft_rpc_failures_total", "counter", "Raft RPCs that failed in transport (lost, timed out, unreachable)", raft.rpcFailures),
      one("concord_raft_snapshots_taken_total", "counter", "Snapshots of this node's own state machine (log compactions)", raft.snapshotsTaken),
      one("concord_raft_snapshots_installed_total", "counter", "Snapshots installed from the leader", raft.snapshotsInstalled),
      one("concord_raft_log_bytes", "gauge", "Encoded size of the hard state and retained log entries", sizes.logBytes),
      one("concord_raft_snapshot_bytes", "gauge", "Size of the latest snapshot's data", sizes.snapshotBytes),
      one("concord_storage_disk_bytes", "gauge", "What the data directory's log and snapshot files take", sizes.diskBytes),
      one("concord_storage_writes_total", "counter", "Storage write requests made durable", storage.writes),
      one("concord_storage_fsyncs_total", "counter", "fsyncs of files and directories", storage.fsyncs),
      one("concord_storage_written_bytes_total", "counter", "Bytes written to the data directory", storage.bytesWritten),
      one("concord_transport_calls_total", "counter", "RPCs this node made", transport.calls),
      one("concord_transport_call_failures_total", "counter", "RPCs this node made that failed in transport", transport.callFailures),
      one("concord_transport_served_total", "counter", "Requests this node served over its transport", transport.served),
      perPeer("concord_transport_sent_bytes_total", `Bytes sent, by peer (${Tcp.INBOUND}: replies on connections peers opened)`, (c) => c.bytesSent),
      perPeer("concord_transport_received_bytes_total", `Bytes received, by peer (${Tcp.INBOUND}: requests on connections peers opened)`, (c) => c.bytesReceived),
      perPeer("concord_transport_sent_frames_total", "Frames sent, by peer", (c) => c.framesSent),
      perPeer("concord_transport_received_frames_total", "Frames received, by peer", (c) => c.framesReceived),
      perPeer("concord_transport_connection_failures_total", "Connections to a peer that could not be made, broke or were closed", (c) => c.connectionFailures)
    ]
    return [...sampled, ...Prometheus.fromMetrics(yield* Metric.snapshot, node)]
  })

/** The node's metrics as Prometheus text. */
export const render = (s: Sources): Effect.Effect<string> => Effect.map(collect(s), Prometheus.render)
