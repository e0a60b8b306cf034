/**
 * One real shard-controller replica: TCP, file storage, Raft, a `CtrlServer` and (optionally) the
 * HTTP API, in one Scope. This is what `concord shard ctrl serve` runs.
 * @since 0.1.0
 */
import type { FileSystem } from "@effect/platform"
import { Effect, type Scope } from "effect"
import type { CorruptLog, StorageError } from "../raft/LogStorage.js"
import * as ReplicaNode from "../replica/ReplicaNode.js"
import type * as Tcp from "../rpc/Tcp.js"
import * as CtrlServer from "./CtrlServer.js"
import * as Ctrl from "./CtrlStateMachine.js"
import * as HttpApi from "./HttpApi.js"
import { CtrlProtocol } from "./Messages.js"
import type * as HttpKit from "../http/HttpKit.js"

export interface Options extends ReplicaNode.Options {
  /** Serve the HTTP/JSON API on this port (0: any free port); omit for none. */
  readonly httpPort?: number
  readonly ctrl?: CtrlServer.Options
}

export type CtrlNode = ReplicaNode.ReplicaNode<CtrlServer.CtrlServerShape>

export const make = (
  options: Options
): Effect.Effect<
  CtrlNode,
  Tcp.ListenError | Tcp.TlsError | StorageError | CorruptLog | HttpKit.ServeError,
  FileSystem.FileSystem | Scope.Scope
> =>
  ReplicaNode.make(
    { ...options, clientRequests: CtrlProtocol.classes.map((c) => c._tag) },
    CtrlServer.make({ peers: options.peers, ...options.ctrl }),
    (server, http) => HttpApi.serve(server, { ...http, servers: Object.keys(options.peers) }),
    { kind: "ctrl", replica: (server) => server.replica, snapshot: Ctrl.snapshot }
  )
