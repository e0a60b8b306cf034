/**
 * One real key/value node: a TCP `Transport`, a `FileStorage` in its data directory, a `Raft` node, a
 * `KvServer` and (optionally) the HTTP API, wired together in one Scope. This is what `concord kv serve` runs; use it to embed a
 * node in your own Effect program.
 * @since 0.1.0
 */
import type { FileSystem } from "@effect/platform"
import { Effect, type Scope } from "effect"
import type { CorruptLog, StorageError } from "../raft/LogStorage.js"
import * as RaftConfig from "../raft/RaftConfig.js"
import * as ReplicaNode from "../replica/ReplicaNode.js"
import type * as Tcp from "../rpc/Tcp.js"
import * as HttpApi from "./HttpApi.js"
import * as KvServer from "./KvServer.js"
import * as Kv from "./KvStateMachine.js"
import { KvAdminProtocol, KvProtocol } from "./Messages.js"
import type * as HttpKit from "../http/HttpKit.js"

export interface Options extends ReplicaNode.Options {
  /** Serve the HTTP/JSON API on this port (0: any free port); omit for none. */
  readonly httpPort?: number
  readonly kv?: Partial<KvServer.Options>
}

/** Real-deployment Raft timing (`RaftConfig.deployment`). */
export const defaultRaft = ReplicaNode.defaultRaft

export type KvNode = ReplicaNode.ReplicaNode<KvServer.KvServerShape>

/** Starts the node in the current scope: it runs until the scope closes. */
export const make = (
  options: Options
): Effect.Effect<
  KvNode,
  Tcp.ListenError | Tcp.TlsError | StorageError | CorruptLog | HttpKit.ServeError,
  FileSystem.FileSystem | Scope.Scope
> =>
  ReplicaNode.make(
    // The membership verbs are an operator's (a client with the token), as are the reads and writes.
    { ...options, clientRequests: [...KvProtocol.classes, ...KvAdminProtocol.classes].map((c) => c._tag) },
    KvServer.make({
      maxRaftState: RaftConfig.deployment.maxRaftStateBytes,
      snapshotLogRatio: RaftConfig.deployment.snapshotLogRatio,
      peers: options.peers,
      ...options.kv
    }),
    (server, http) => HttpApi.serve(server, { ...http, servers: Object.keys(options.peers) }),
    { kind: "kv", replica: (server) => server.replica, snapshot: Kv.snapshot }
  )
