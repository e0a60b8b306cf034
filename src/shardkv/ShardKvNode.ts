/**
 * One real replica of one group of the sharded key/value service: TCP, file storage, Raft, a
 * `ShardKvServer` and (optionally) the HTTP API, in one Scope. This is what `concord shard serve` runs.
 *
 * The HTTP API has the key/value service's routes, semantics, headers and error codes; any replica
 * accepts any key and forwards it to the group that serves the key's shard (a pool of
 * `ShardKvClient`s that follow the configs), so a client needs one address, as with `mongos`.
 * @since 0.1.0
 */
import type { FileSystem } from "@effect/platform"
import { Effect, type Scope } from "effect"
import * as HttpApi from "../kv/HttpApi.js"
import type { CorruptLog, StorageError } from "../raft/LogStorage.js"
import * as RaftConfig from "../raft/RaftConfig.js"
import * as ReplicaNode from "../replica/ReplicaNode.js"
import type * as Tcp from "../rpc/Tcp.js"
import type { Gid } from "../shardctrler/Config.js"
import * as ShardKvClient from "./ShardKvClient.js"
import { ShardGet, ShardStatus, ShardWrite } from "./Messages.js"
import * as ShardKvServer from "./ShardKvServer.js"
import * as Group from "./ShardStateMachine.js"
import type * as HttpKit from "../http/HttpKit.js"

export interface Options extends ReplicaNode.Options {
  readonly gid: Gid
  /** The controller replicas: id → host:port. */
  readonly ctrl: Readonly<Record<string, string>>
  /** Serve the HTTP/JSON API on this port (0: any free port); omit for none. */
  readonly httpPort?: number
  readonly server?: Partial<Omit<ShardKvServer.Options, "gid" | "ctrlers">>
}

export type ShardKvNode = ReplicaNode.ReplicaNode<ShardKvServer.ShardKvServerShape>

export const make = (
  options: Options
): Effect.Effect<
  ShardKvNode,
  Tcp.ListenError | Tcp.TlsError | StorageError | CorruptLog | HttpKit.ServeError,
  FileSystem.FileSystem | Scope.Scope
> => {
  const ctrlers = Object.keys(options.ctrl)
  return ReplicaNode.make(
    // PullShard and DeleteShards, between groups, are for members only.
    { ...options, others: { ...options.others, ...options.ctrl }, clientRequests: [ShardGet._tag, ShardWrite._tag, ShardStatus._tag] },
    ShardKvServer.make({
      gid: options.gid,
      ctrlers,
      maxRaftState: RaftConfig.deployment.maxRaftStateBytes,
      peers: options.peers,
      ...options.server
    }),
    (server, http) =>
      HttpApi.serveBackend({
        client: ShardKvClient.make({ ctrlers, callTimeout: "2 seconds" }),
        status: server.status,
        local: (key) =>
          Effect.map(server.replica.local, ({ applied, state }) => {
            const shard = Group.shardOf(state, key)
            const held = shard === undefined ? undefined : state.shards.get(shard)
            return { key, value: held?.data.get(key) ?? "", shard: shard ?? null, state: held?.status ?? null, applied }
          })
      }, http),
    { kind: "shardkv", replica: (server) => server.replica, snapshot: Group.snapshot }
  )
}
