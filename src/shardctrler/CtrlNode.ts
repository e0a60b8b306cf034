/**
 * One real shard-controller replica: TCP, file storage, Raft, a `CtrlServer` and (optionally) the
 * HTTP API, in one Scope. This is what `concord shard ctrl serve` runs.
 * @since 0.1.0
 */
import type { FileSystem, HttpServerError } from "@effect/platform"
import { Effect, type Scope } from "effect"
import type { CorruptLog, StorageError } from "../raft/LogStorage.js"
import type * as Raft from "../raft/Raft.js"
import * as ReplicaNode from "../replica/ReplicaNode.js"
import type * as Tcp from "../rpc/Tcp.js"
import { Transport } from "../rpc/Transport.js"
import * as CtrlServer from "./CtrlServer.js"
import * as HttpApi from "./HttpApi.js"

export interface Options extends ReplicaNode.Options {
  /** Serve the HTTP/JSON API on this port (0: any free port); omit for none. */
  readonly httpPort?: number
  readonly ctrl?: CtrlServer.Options
}

export interface CtrlNode {
  readonly id: string
  readonly address: { readonly host: string; readonly port: number }
  readonly raft: Raft.RaftShape
  readonly server: CtrlServer.CtrlServerShape
  readonly transport: Tcp.TcpTransport
  readonly httpPort: number | undefined
}

export const make = (
  options: Options
): Effect.Effect<
  CtrlNode,
  Tcp.ListenError | StorageError | CorruptLog | HttpServerError.ServeError,
  FileSystem.FileSystem | Scope.Scope
> =>
  Effect.gen(function*() {
    const node = yield* ReplicaNode.make(options, CtrlServer.make({ peers: options.peers, ...options.ctrl }))
    const http = options.httpPort === undefined ? undefined : yield* HttpApi.serve(node.service, {
      host: options.host ?? "127.0.0.1",
      port: options.httpPort,
      servers: Object.keys(options.peers)
    }).pipe(Effect.provideService(Transport, node.transport))
    return { id: node.id, address: node.address, raft: node.raft, server: node.service, transport: node.transport, httpPort: http?.port }
  })
