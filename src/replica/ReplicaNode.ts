/**
 * One real replica of a service on Raft: a TCP `Transport` on its own port, a `FileStorage` in its
 * data directory (with the identity of its cluster and node), a `Raft` node with the deployment
 * defaults, and the service itself, wired together in one Scope. `KvNode`, `CtrlNode` and
 * `ShardKvNode` are this with their service (and their HTTP API).
 * @since 0.1.0
 */
import type { FileSystem } from "@effect/platform"
import { Effect, type Scope } from "effect"
import * as HttpKit from "../http/HttpKit.js"
import * as Bound from "../internal/metrics.js"
import * as Metrics from "../ops/Metrics.js"
import { OpsProtocol } from "../ops/Messages.js"
import * as OpsNode from "../ops/Node.js"
import { type CorruptLog, LogStorage, type StorageError } from "../raft/LogStorage.js"
import * as Raft from "../raft/Raft.js"
import * as RaftConfig from "../raft/RaftConfig.js"
import * as Tcp from "../rpc/Tcp.js"
import { Transport } from "../rpc/Transport.js"
import * as FileStorage from "../storage/FileStorage.js"

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
  /** Addresses of nodes outside the cluster that this node calls (another cluster's members). */
  readonly others?: Readonly<Record<string, string>>
  readonly raft?: Partial<Omit<RaftConfig.RaftConfig, "id" | "peers">>
  /** TLS and authentication of both ports; default none (a trusted network). */
  readonly security?: Security
  /**
   * Join an existing cluster instead of bootstrapping one from `peers` (which then only needs this
   * node's own entry, and addresses to call): the node waits, a non-voter, for its configuration.
   */
  readonly join?: boolean
}

/**
 * The security of a node, on both its ports. TLS: the Raft/client port is mutual TLS between members
 * (every member's certificate signed by `ca`; clients need none) and the HTTP port is HTTPS with the
 * same certificate. `token`: every client request must carry it (binary protocol: in the connection's
 * hello; HTTP: `Authorization: Bearer`). `clusterSecret`: without TLS, what makes a connection a
 * member's (default: the token). See `Tcp.Options` for the rules.
 */
export interface Security {
  readonly tls?: { readonly ca: string | Uint8Array; readonly cert: string | Uint8Array; readonly key: string | Uint8Array }
  readonly token?: string
  readonly clusterSecret?: string
}

/** The transport options of `security`; `clientRequests`: the request tags the service serves to clients. */
export const transportSecurity = (
  security: Security | undefined,
  clientRequests: ReadonlyArray<string>
): Pick<Tcp.Options, "tls" | "auth"> =>
  security === undefined ? {} : {
    ...(security.tls === undefined ? {} : { tls: security.tls }),
    auth: {
      clientRequests,
      ...(security.token === undefined ? {} : { token: security.token }),
      ...(security.clusterSecret === undefined ? {} : { clusterSecret: security.clusterSecret })
    }
  }

/** The HTTP API's part of `security`. */
export const httpSecurity = (security: Security | undefined): HttpKit.Security => ({
  ...(security?.tls === undefined ? {} : { tls: { cert: security.tls.cert, key: security.tls.key } }),
  ...(security?.token === undefined ? {} : { token: security.token })
})

/** Real-deployment Raft timing (`RaftConfig.deployment`). */
export const defaultRaft: Partial<Omit<RaftConfig.RaftConfig, "id" | "peers">> = {
  electionTimeoutMs: RaftConfig.deployment.electionTimeoutMs,
  heartbeatIntervalMs: RaftConfig.deployment.heartbeatIntervalMs,
  rpcTimeoutMs: RaftConfig.deployment.rpcTimeoutMs
}

export interface ReplicaNode<S> {
  readonly id: string
  readonly address: { readonly host: string; readonly port: number }
  readonly raft: Raft.RaftShape
  /** The service on the node's Raft. */
  readonly server: S
  readonly transport: Tcp.TcpTransport
  /** The HTTP API's port, if it serves one. */
  readonly httpPort: number | undefined
}

/** A service's HTTP API: served on `port` (0: any free one) over the node's transport; the bound port. */
export type HttpApi<S, E> = (
  server: S,
  options: HttpKit.ServeOptions
) => Effect.Effect<{ readonly port: number }, E, Transport | Scope.Scope>

/**
 * Starts the node in the current scope, with `service` on its Raft node and, given an `httpPort`, its
 * `http` API: it runs until the scope closes. `clientRequests`: the request tags of the service's
 * client protocol (with `security`, only members may make the others, Raft's among them). The HTTP
 * port also serves what `ops/Node.ts` lists (metrics, health), for the service `ops` describes;
 * every metric is labelled with the node's id.
 */
export const make = <S, E, E2 = never>(
  options: Options & { readonly httpPort?: number; readonly clientRequests: ReadonlyArray<string> },
  service: Effect.Effect<S, E, Raft.Raft | Transport | Scope.Scope>,
  http?: HttpApi<S, E2>,
  ops?: OpsNode.Service<S>
): Effect.Effect<ReplicaNode<S>, Tcp.ListenError | Tcp.TlsError | StorageError | CorruptLog | E | E2, FileSystem.FileSystem | Scope.Scope> =>
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
    const transport = yield* Tcp.make({
      self: options.id,
      listen: { host: options.host ?? "127.0.0.1", port },
      peers: { ...options.others, ...options.peers },
      // The operator's requests (a snapshot for `kv snapshot save`, a member's status) are clients' too.
      ...transportSecurity(options.security, [...options.clientRequests, ...OpsProtocol.classes.map((c) => c._tag)])
    })
    const config = RaftConfig.make({
      id: options.id,
      peers: options.join === true ? [] : Object.keys(options.peers),
      addresses: options.peers,
      ...defaultRaft,
      ...options.raft
    })
    const raft = yield* Raft.make(config).pipe(Effect.provideService(Transport, transport), Effect.provideService(LogStorage, storage))
    // The service's requests are counted and timed by the transport it serves them on.
    const svc = yield* service.pipe(Effect.provideService(Raft.Raft, raft), Effect.provideService(Transport, Metrics.instrument(transport, yield* Bound.currentLabels)))
    const mounted = yield* OpsNode.start({ id: options.id, peers: options.peers, raft, storage, transport }, svc, ops)
    const api = http === undefined || options.httpPort === undefined ? undefined : yield* http(svc, {
      host: options.host ?? "127.0.0.1",
      port: options.httpPort,
      security: httpSecurity(options.security)
    }).pipe(Effect.provideService(Transport, transport), Effect.provideService(HttpKit.Mounted, mounted))
    return { id: options.id, address: transport.address!, raft, server: svc, transport, httpPort: api?.port }
  }).pipe(Bound.withoutFiberMetrics, Effect.tagMetrics(Metrics.NODE_LABEL, options.id))
