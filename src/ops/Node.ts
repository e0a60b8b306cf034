/**
 * What every replica serves for its operators, whatever its service (key/value, shard controller,
 * sharded key/value): `ReplicaNode` starts it, so the three servers share it.
 *
 * On the node's HTTP port, beside the service's API (`HttpKit.Mounted`):
 *
 *   GET /metrics    Prometheus text (`Metrics`)
 *   GET /health     200 {"healthy": true, ...} or 503 {"healthy": false, "reason": "..."} (`Health`)
 *   GET /v1/snapshot  a backup file (`Backup`) of a consistent snapshot taken by the leader
 *   GET /v1/cluster   every member's status as this node reaches it over the transport (or why not)
 *   GET /             the live status page (`StatusPage`), which polls the two routes above
 *
 * and on its Raft port the `Ops` protocol (`OpsSnapshot`, `OpsStatus`: see `Messages.ts`), through
 * which any node reaches the others.
 * @since 0.1.0
 */
import { Duration, Effect, type Scope } from "effect"
import * as HttpKit from "../http/HttpKit.js"
import * as Clerk from "../replica/Clerk.js"
import { Retry } from "../replica/Messages.js"
import { Transport } from "../rpc/Transport.js"
import * as Backup from "./Backup.js"
import type { LogStorageShape } from "../raft/LogStorage.js"
import type { RaftShape } from "../raft/Raft.js"
import type { ReplicatedStateMachine } from "../raft/ReplicatedStateMachine.js"
import type { TcpTransport } from "../rpc/Tcp.js"
import * as Health from "./Health.js"
import * as Metrics from "./Metrics.js"
import { MemberStatus, OpsProtocol, type OpsRequest, OpsSnapshot, OpsStatus } from "./Messages.js"
import * as StatusPage from "./StatusPage.js"
import * as Prometheus from "./Prometheus.js"

/** Which service a node runs (the status page shows each its own way). */
export type Kind = "kv" | "ctrl" | "shardkv"

/** What the operator side needs to know of a node's service. */
export interface Service<S, St = any> {
  readonly kind: Kind
  /** The server's replicated state machine. */
  readonly replica: (server: S) => ReplicatedStateMachine<St, any, any>
  /** Encodes the state as the service's snapshots do (its `StateMachine.snapshot`). */
  readonly snapshot: (state: St) => Uint8Array
}

/** The parts of a running node. */
export interface Parts {
  readonly id: string
  readonly peers: Readonly<Record<string, string>>
  readonly raft: RaftShape
  readonly storage: LogStorageShape
  readonly transport: TcpTransport
}

/** `/v1/cluster` reports a member that does not answer within this as unreachable. */
const MEMBER_TIMEOUT = Duration.millis(800)
/** A leader answers with a snapshot within this, or `Retry`. */
const SNAPSHOT_TIMEOUT = Duration.seconds(5)
/** `GET /v1/snapshot` gives up after this (the leader may be changing; the snapshot may be large). */
const FETCH_TIMEOUT = Duration.seconds(15)

const get = (request: HttpKit.RequestShape, path: string) =>
  request.method === "GET" ? undefined : HttpKit.reject("method_not_allowed", `use GET ${path}`)

/**
 * Starts the operator side of a node in the current scope (its health watcher); the routes to mount
 * on its HTTP API.
 */
export const start = <S>(
  parts: Parts,
  server: S,
  service: Service<S> | undefined
): Effect.Effect<HttpKit.Mounted["Type"], never, Scope.Scope> =>
  Effect.gen(function*() {
    const applied = service === undefined
      ? Effect.map(parts.raft.status, (s) => s.applied)
      : Effect.map(service.replica(server).local, (l) => l.applied)
    const health = yield* Health.make(parts.raft, applied)
    const sources: Metrics.Sources = { ...parts, applied }
    const status = Effect.gen(function*() {
      const s = yield* parts.raft.status
      const sizes = yield* parts.raft.sizes
      return new MemberStatus({
        id: s.id,
        kind: service?.kind ?? null,
        role: s.role,
        term: s.term,
        leader: s.leader,
        commit: s.commit,
        applied: yield* applied,
        lastIndex: s.lastIndex,
        snapshotIndex: s.snapshotIndex,
        logBytes: sizes.logBytes,
        snapshotBytes: sizes.snapshotBytes,
        diskBytes: sizes.diskBytes,
        peers: parts.peers
      })
    })

    yield* parts.transport.serve<OpsRequest, never>(OpsProtocol, {
      OpsSnapshot: () =>
        service === undefined
          ? Effect.fail(new Retry({ reason: "this service takes no snapshots" }))
          : Backup.capture(service.kind, parts.raft, service.replica(server), service.snapshot).pipe(
            Effect.timeoutFail({
              duration: SNAPSHOT_TIMEOUT,
              onTimeout: () => new Retry({ reason: `no snapshot within ${Duration.format(SNAPSHOT_TIMEOUT)}` })
            }),
            Effect.catchTag("NodeStopped", (e) => Effect.fail(new Retry({ reason: e.message })))
          ),
      OpsStatus: () => status
    })
    const members = Object.keys(parts.peers)
    const clerk = yield* Clerk.make({ servers: members, callTimeout: "10 seconds" }).pipe(
      Effect.provideService(Transport, parts.transport)
    )
    const snapshotFile = Clerk.deadline(clerk.call(new OpsSnapshot()), FETCH_TIMEOUT, () =>
      new HttpKit.HttpFailure({ code: "unavailable", message: `no leader sent a snapshot within ${Duration.format(FETCH_TIMEOUT)}` })).pipe(
        // A member refused this node (a cluster secret that differs): the cluster is misconfigured.
        Effect.catchTag("Unauthorized", (e) => HttpKit.reject("unavailable", e.message))
      )

    const cluster = Effect.map(
      Effect.forEach(Object.entries(parts.peers), ([id, address]) =>
        id === parts.id
          ? Effect.map(status, (s) => ({ id, address, reachable: true, status: s }))
          : parts.transport.call(id, new OpsStatus(), { timeout: MEMBER_TIMEOUT }).pipe(
            Effect.map((s) => ({ id, address, reachable: true, status: s })),
            Effect.catchAll((e) => Effect.succeed({ id, address, reachable: false, error: e.message }))
          ), { concurrency: "unbounded" }),
      (members) => ({ self: parts.id, kind: service?.kind ?? null, members })
    )
    const html = StatusPage.page(parts.id)

    return (request) => {
      const path = new URL(request.url, "http://localhost").pathname
      switch (path) {
        case "/metrics":
          return get(request, path) ?? Effect.map(Metrics.render(sources), (text) =>
            HttpKit.text(text, { contentType: Prometheus.contentType }))
        case "/health":
          return get(request, path) ?? Effect.map(health.check, (r) => HttpKit.json(r, r.healthy ? 200 : 503))
        case "/v1/snapshot":
          return get(request, path) ?? Effect.map(snapshotFile, (captured) =>
            HttpKit.bytes(Backup.encode(captured), {
              contentType: "application/octet-stream",
              headers: {
                "content-disposition": `attachment; filename="concord-${captured.kind}-${captured.index}.snap"`,
                "x-concord-snapshot-index": String(captured.index),
                "x-concord-snapshot-term": String(captured.term)
              }
            }))
        case "/v1/cluster":
          return get(request, path) ?? Effect.map(cluster, (view) => HttpKit.json(view))
        case "/":
        case "/index.html":
          return get(request, path) ?? Effect.succeed(HttpKit.text(html, { contentType: "text/html; charset=utf-8" }))
        default:
          return undefined
      }
    }
  })
