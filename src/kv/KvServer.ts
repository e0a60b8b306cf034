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
 * election is under way) answers `Retry`, so clients move on instead of waiting on a minority; a key
 * or value beyond `Limits` is refused with `InvalidRequest` before it reaches the log.
 * Snapshots are taken when the Raft state nears `maxRaftState` bytes (−1: never), and include the
 * duplicate table. It also serves the membership verbs (`KvAdminProtocol`, see `Members`).
 * @since 0.1.0
 */
import { Effect, type Scope } from "effect"
import * as Members from "./Members.js"
import type { StorageError } from "../raft/LogStorage.js"
import type { Raft } from "../raft/Raft.js"
import * as Rsm from "../raft/ReplicatedStateMachine.js"
import * as Answer from "../replica/Answer.js"
import { replicaStatus } from "../replica/Status.js"
import type { InvalidRequest } from "../replica/Messages.js"
import { Transport } from "../rpc/Transport.js"
import * as Kv from "./KvStateMachine.js"
import * as Limits from "./Limits.js"
import { type KvAdminRequest, KvAdminProtocol, KvProtocol, type KvRequest, NodeStatus } from "./Messages.js"

export interface Options {
  /** Snapshot when the Raft state (hard state + log) nears this many bytes; −1 never. */
  readonly maxRaftState: number
  /** See `ReplicatedStateMachine.Options.snapshotLogRatio`. Default 0 (a real node's: `RaftConfig.deployment`). */
  readonly snapshotLogRatio?: number
  /** How Gets are served. Default "readIndex". */
  readonly getMode?: "readIndex" | "log"
  /** A request not applied within this time is answered with `Retry`. Default 1000 ms. */
  readonly requestTimeoutMs?: number
  /** Key and value limits (refused with `InvalidRequest`). Default `Limits.defaults`. */
  readonly limits?: Limits.Limits
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
      snapshotLogBytes: options.maxRaftState < 0 ? -1 : Math.floor(options.maxRaftState * SNAPSHOT_AT),
      snapshotLogRatio: options.snapshotLogRatio ?? 0
    })
    const answer = Answer.answer
    const limits = options.limits ?? Limits.defaults
    /** Refuses a request that could never succeed, before it reaches the log. */
    const valid = (key: string, value: string): Effect.Effect<void, InvalidRequest> => {
      const bad = Limits.check(key, value, limits)
      return bad === undefined ? Effect.void : Effect.fail(bad)
    }

    const status = Effect.map(replicaStatus(replica, options.peers), ({ fields, raft }) =>
      new NodeStatus({ ...fields, lastIndex: raft.lastIndex, snapshotIndex: raft.snapshotIndex }))
    yield* transport.serve<KvRequest, never>(KvProtocol, {
      KvGet: (req) =>
        Effect.zipRight(
          valid(req.key, ""),
          options.getMode === "log"
            ? answer(replica.execute({ op: "get", key: req.key, clientId: req.clientId, seq: req.seq })).pipe(
              Effect.map((r) => r.value)
            )
            : answer(replica.read((state) => Kv.get(state, req.key)))
        ),
      KvWrite: (req) =>
        Effect.zipRight(
          valid(req.key, req.value),
          answer(replica.execute({ op: req.op, key: req.key, value: req.value, clientId: req.clientId, seq: req.seq }))
        ).pipe(Effect.asVoid),
      KvStatus: () => status
    }, Answer.deadline<KvRequest>(options.requestTimeoutMs ?? 1000, ["KvGet", "KvWrite"]))
    yield* transport.serve<KvAdminRequest, never>(KvAdminProtocol, Members.handlers(replica.raft))
    return { replica, status }
  })
