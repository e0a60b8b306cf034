/**
 * `KvServer`: one replica of the fault-tolerant key/value service (6.824 lab 3).
 *
 * It runs `KvStateMachine` on the node's `Raft` through `ReplicatedStateMachine` and serves the KV
 * protocol on the node's `Transport`:
 * - writes (put, append, delete) are proposed to the log and answered once applied here (this node
 *   must lead);
 * - Get is linearizable without a log write: ReadIndex confirms leadership with a majority, then the
 *   value is read once the state machine has applied through the read point. `getMode: "log"` routes
 *   Gets through the log instead (for comparison; `npm run bench -- kvreads` measures both).
 * A server that cannot finish a request within `requestTimeoutMs` (it lost its majority, or an
 * election is under way) answers `KvRetry`, so clients move on instead of waiting on a minority.
 * Snapshots are taken when the Raft state nears `maxRaftState` bytes (−1: never), and include the
 * duplicate table.
 * @since 0.1.0
 */
import { Effect, Fiber, type Scope } from "effect"
import { NotLeader } from "../raft/Messages.js"
import type { NodeStopped, Raft } from "../raft/Raft.js"
import * as Rsm from "../raft/ReplicatedStateMachine.js"
import { Transport } from "../rpc/Transport.js"
import type { StorageError } from "../raft/LogStorage.js"
import * as Kv from "./KvStateMachine.js"
import { KvProtocol, type KvRequest, KvRetry, NodeStatus } from "./Messages.js"

export interface Options {
  /** Snapshot when the Raft state (hard state + log) nears this many bytes; −1 never. */
  readonly maxRaftState: number
  /** How Gets are served. Default "readIndex". */
  readonly getMode?: "readIndex" | "log"
  /** A request not applied within this time is answered with `KvRetry`. Default 1000 ms. */
  readonly requestTimeoutMs?: number
  /** Member addresses to report in `KvStatus` (a real deployment passes its peers map). */
  readonly peers?: Readonly<Record<string, string>>
}

export interface KvServerShape {
  /** The replicated state machine (status, local state). */
  readonly replica: Rsm.ReplicatedStateMachine<Kv.KvState, Kv.KvCommand, Kv.KvResult>
  /** This node's status: Raft state, applied index, log and snapshot sizes, members. */
  readonly status: Effect.Effect<NodeStatus>
}

/** Snapshot at this fraction of `maxRaftState`, leaving room for the entries that arrive meanwhile. */
const SNAPSHOT_AT = 0.9

/** Starts a KV replica on the `Raft` node in context; serves until the scope closes. */
export const make = (
  options: Options
): Effect.Effect<KvServerShape, StorageError, Raft | Transport | Scope.Scope> =>
  Effect.gen(function*() {
    const transport = yield* Transport
    const replica = yield* Rsm.make(Kv.machine, {
      command: Kv.KvCommand,
      snapshotLogBytes: options.maxRaftState < 0 ? -1 : Math.floor(options.maxRaftState * SNAPSHOT_AT)
    })
    const timeoutMs = options.requestTimeoutMs ?? 1000
    const clock = yield* Effect.clock
    const now = () => clock.unsafeCurrentTimeMillis()

    // Request deadlines. `Effect.timeoutFail` per request races two forked fibers and a timer, which
    // cost about as much as the rest of a put on the leader; instead each request runs in one forked
    // fiber, and one watcher fiber sleeps until the oldest deadline and answers the overdue requests.
    // All requests have the same timeout, so insertion order is deadline order.
    interface InFlight {
      readonly deadline: number
      readonly expire: () => void
    }
    const inFlight = new Set<InFlight>()
    const work = yield* Effect.makeLatch(false)
    yield* Effect.forkScoped(Effect.forever(Effect.suspend(() => {
      const oldest = inFlight.values().next().value
      if (oldest === undefined) {
        work.unsafeClose()
        return work.await
      }
      const wait = oldest.deadline - now()
      if (wait > 0) return Effect.sleep(Math.ceil(wait))
      inFlight.delete(oldest)
      oldest.expire()
      return Effect.void
    })))
    const withDeadline = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E | KvRetry> =>
      Effect.flatMap(Effect.fork(effect), (fiber) =>
        Effect.async<A, E | KvRetry>((resume) => {
          const entry: InFlight = {
            deadline: now() + timeoutMs,
            expire: () => {
              resume(Effect.fail(new KvRetry({ reason: `not applied within ${timeoutMs} ms` })))
              fiber.unsafeInterruptAsFork(fiber.id())
            }
          }
          if (inFlight.size === 0) work.unsafeOpen()
          inFlight.add(entry)
          fiber.addObserver((exit) => {
            if (inFlight.delete(entry)) resume(exit)
          })
          return Effect.suspend(() => inFlight.delete(entry) ? Fiber.interrupt(fiber) : Effect.void)
        }))

    /** Maps the replica's failures to the wire's: NotLeader as is, anything else "retry elsewhere". */
    const answer = <A>(effect: Effect.Effect<A, NotLeader | Rsm.ProposalDropped | Rsm.OutcomeUnknown | NodeStopped>) =>
      withDeadline(effect).pipe(
        Effect.catchIf(
          (e): e is Exclude<typeof e, NotLeader | KvRetry> => !(e instanceof NotLeader) && !(e instanceof KvRetry),
          (e) => Effect.fail(new KvRetry({ reason: e.message }))
        )
      )

    const status = Effect.gen(function*() {
      const s = yield* replica.raft.status
      const sizes = yield* replica.raft.sizes
      return new NodeStatus({
        id: s.id,
        role: s.role,
        term: s.term,
        leader: s.leader,
        commit: s.commit,
        applied: (yield* replica.local).applied,
        lastIndex: s.lastIndex,
        snapshotIndex: s.snapshotIndex,
        logBytes: sizes.logBytes,
        snapshotBytes: sizes.snapshotBytes,
        peers: options.peers ?? {}
      })
    })
    yield* transport.serve<KvRequest, never>(KvProtocol, {
      KvGet: (req) =>
        options.getMode === "log"
          ? answer(replica.execute({ op: "get", key: req.key, clientId: req.clientId, seq: req.seq })).pipe(
            Effect.map((r) => r.value)
          )
          : answer(replica.read((state) => Kv.get(state, req.key))),
      KvWrite: (req) =>
        answer(replica.execute({ op: req.op, key: req.key, value: req.value, clientId: req.clientId, seq: req.seq })).pipe(
          Effect.asVoid
        ),
      KvStatus: () => status
    })
    return { replica, status }
  })
