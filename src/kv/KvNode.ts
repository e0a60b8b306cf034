/**
 * One real key/value node: a TCP `Transport`, a `FileStorage` in its data directory, a `Raft` node, a
 * `KvServer` and (optionally) the HTTP API, wired together in one Scope. This is what `concord kv serve` runs; use it to embed a
 * node in your own Effect program.
 * @since 0.1.0
 */
import type { FileSystem, HttpServerError } from "@effect/platform"
import { Effect, type Scope } from "effect"
import * as Raft from "../raft/Raft.js"
import * as RaftConfig from "../raft/RaftConfig.js"
import * as Tcp from "../rpc/Tcp.js"
import { Transport } from "../rpc/Transport.js"
import * as FileStorage from "../storage/FileStorage.js"
import { type CorruptLog, LogStorage, type StorageError } from "../storage/LogStorage.js"
import * as HttpApi from "./HttpApi.js"
import * as KvServer from "./KvServer.js"

export interface Options {
  /** This node's id; must be a key of `peers`. */
  readonly id: string
  /** Every member's id and `host:port` (this node included). */
  readonly peers: Readonly<Record<string, string>>
  /** Where this node keeps its log and snapshots. */
  readonly dataDir: string
  /** A cluster name recorded in the data directory, so a directory cannot be reused by another cluster. */
  readonly clusterId?: string
  /** Listen host; default 127.0.0.1. The port comes from `peers[id]`. */
  readonly host?: string
  /** Serve the HTTP/JSON API on this port (0: any free port); omit for none. */
  readonly httpPort?: number
  readonly raft?: Partial<Omit<RaftConfig.RaftConfig, "id" | "peers">>
  readonly kv?: Partial<KvServer.Options>
}

/** Real-deployment Raft timing: fast failover on a LAN (etcd uses 100 ms / 1000 ms by default). */
export const defaultRaft: Partial<Omit<RaftConfig.RaftConfig, "id" | "peers">> = {
  electionTimeoutMs: 300,
  heartbeatIntervalMs: 50,
  rpcTimeoutMs: 500
}

export interface KvNode {
  readonly id: string
  readonly address: { readonly host: string; readonly port: number }
  readonly raft: Raft.RaftShape
  readonly server: KvServer.KvServerShape
  readonly transport: Tcp.TcpTransport
  /** The HTTP API's port, if it serves one. */
  readonly httpPort: number | undefined
}

/** Starts the node in the current scope: it runs until the scope closes. */
export const make = (
  options: Options
): Effect.Effect<
  KvNode,
  Tcp.ListenError | StorageError | CorruptLog | HttpServerError.ServeError,
  FileSystem.FileSystem | Scope.Scope
> =>
  Effect.gen(function*() {
    const own = options.peers[options.id]
    if (own === undefined) return yield* Effect.dieMessage(`node ${options.id} is not among the peers ${Object.keys(options.peers).join(", ")}`)
    const port = Number(own.slice(own.lastIndexOf(":") + 1))
    // Storage first: a data directory in use by another process (or another node's) is refused before
    // this node listens, so peers never see a node that cannot run.
    const storage = yield* FileStorage.make({
      dir: options.dataDir,
      identity: { clusterId: options.clusterId ?? "concord", nodeId: options.id }
    })
    const transport = yield* Tcp.make({ self: options.id, listen: { host: options.host ?? "127.0.0.1", port }, peers: options.peers })
    const config = RaftConfig.make({ id: options.id, peers: Object.keys(options.peers), ...defaultRaft, ...options.raft })
    const { raft, server } = yield* Effect.gen(function*() {
      const raft = yield* Raft.make(config)
      const server = yield* KvServer.make({ maxRaftState: 8 * 1024 * 1024, peers: options.peers, ...options.kv }).pipe(
        Effect.provideService(Raft.Raft, raft)
      )
      return { raft, server }
    }).pipe(Effect.provideService(Transport, transport), Effect.provideService(LogStorage, storage))
    const http = options.httpPort === undefined ? undefined : yield* HttpApi.serve(server, {
      host: options.host ?? "127.0.0.1",
      port: options.httpPort,
      servers: Object.keys(options.peers)
    }).pipe(Effect.provideService(Transport, transport))
    return { id: options.id, address: transport.address!, raft, server, transport, httpPort: http?.port }
  })
