/**
 * `CtrlServer`: one replica of the shard controller (6.824 lab 4A) on the node's `Raft`.
 *
 * Join, Leave and Move go through the log and answer with the config they made, exactly once per
 * (client id, seq); one that cannot apply (a gid already joined, a gid unknown, a shard out of range,
 * a group with no servers) is refused deterministically in the state machine and answered with
 * `InvalidRequest`, the same on every replica and on every retry. Query is a linearizable read
 * (ReadIndex, no log write). A request not done within `requestTimeoutMs` answers `Retry`.
 * @since 0.1.0
 */
import { Effect, type Scope } from "effect"
import type { StorageError } from "../raft/LogStorage.js"
import type { Raft } from "../raft/Raft.js"
import * as Rsm from "../raft/ReplicatedStateMachine.js"
import * as Answer from "../replica/Answer.js"
import { replicaStatus } from "../replica/Status.js"
import { InvalidRequest } from "../replica/Messages.js"
import { Transport } from "../rpc/Transport.js"
import { type Config, DEFAULT_SHARDS, type KeyToShard, toWire } from "./Config.js"
import * as Ctrl from "./CtrlStateMachine.js"
import { CtrlNodeStatus, CtrlProtocol, type CtrlRequest } from "./Messages.js"

export interface Options {
  /** Shards of the cluster; fixed when it is created. Default 10. */
  readonly nShards?: number
  /** The key→shard function of the cluster; fixed when it is created. Default "hash". */
  readonly keyToShard?: KeyToShard
  /** Snapshot when the Raft state nears this many bytes; −1 never. Default 8 MiB. */
  readonly maxRaftState?: number
  /** A request not applied within this time is answered with `Retry`. Default 1000 ms. */
  readonly requestTimeoutMs?: number
  /** Member addresses to report in `CtrlStatus` (a real deployment passes its peers map). */
  readonly peers?: Readonly<Record<string, string>>
}

export interface CtrlServerShape {
  readonly replica: Rsm.ReplicatedStateMachine<Ctrl.CtrlState, Ctrl.CtrlCommand, Ctrl.CtrlResult>
  /**
   * Config `num` (-1: the latest), linearizably. Called in process, it is not under the request
   * deadline (that bounds the requests served over the transport): bound it yourself.
   */
  readonly query: (num: number) => Effect.Effect<Config, Answer.WireError>
  /** This replica's status. */
  readonly status: Effect.Effect<CtrlNodeStatus>
}

const SNAPSHOT_AT = 0.9

export const make = (options: Options = {}): Effect.Effect<CtrlServerShape, StorageError, Raft | Transport | Scope.Scope> =>
  Effect.gen(function*() {
    const transport = yield* Transport
    const maxRaftState = options.maxRaftState ?? 8 * 1024 * 1024
    const replica = yield* Rsm.make(Ctrl.machine(options.nShards ?? DEFAULT_SHARDS, options.keyToShard ?? "hash"), {
      command: Ctrl.CtrlCommand,
      snapshotLogBytes: maxRaftState < 0 ? -1 : Math.floor(maxRaftState * SNAPSHOT_AT)
    })
    const answer = Answer.answer

    /** Runs a command; its config, or InvalidRequest for a refused one. */
    const execute = (cmd: Ctrl.CtrlCommand) =>
      answer(Effect.flatMap(replica.execute(cmd), (r) =>
        "num" in r
          ? replica.local.pipe(Effect.map(({ state }) => toWire(state.configs[r.num]!)))
          : Effect.fail(new InvalidRequest({ code: "bad_request", reason: r.refused }))))

    const query = (num: number) => answer(replica.read((state) => Ctrl.query(state, num)))

    const status = Effect.map(replicaStatus(replica, options.peers), ({ fields, state }) =>
      new CtrlNodeStatus({ ...fields, config: state.configs.length - 1 }))

    yield* transport.serve<CtrlRequest, never>(CtrlProtocol, {
      CtrlJoin: (req) => execute({ op: "join", groups: req.groups, clientId: req.clientId, seq: req.seq }),
      CtrlLeave: (req) => execute({ op: "leave", gids: req.gids, clientId: req.clientId, seq: req.seq }),
      CtrlMove: (req) => execute({ op: "move", shard: req.shard, gid: req.gid, clientId: req.clientId, seq: req.seq }),
      CtrlQuery: (req) =>
        req.num < -1
          ? Effect.fail(new InvalidRequest({ code: "bad_request", reason: `config ${req.num}: use -1 for the latest` }))
          : Effect.map(query(req.num), toWire),
      CtrlStatus: () => status
    }, Answer.deadline<CtrlRequest>(options.requestTimeoutMs ?? 1000, ["CtrlJoin", "CtrlLeave", "CtrlMove", "CtrlQuery"]))
    return { replica, query, status }
  })
