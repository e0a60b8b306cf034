/**
 * What every replica serves for its operators, whatever its service (key/value, shard controller,
 * sharded key/value): `ReplicaNode` starts it, so the three servers share it.
 *
 * On the node's HTTP port, beside the service's API (`HttpKit.Mounted`):
 *
 *   GET /metrics    Prometheus text (`Metrics`)
 *   GET /health     200 {"healthy": true, ...} or 503 {"healthy": false, "reason": "..."} (`Health`)
 * @since 0.1.0
 */
import { HttpServerResponse } from "@effect/platform"
import type { HttpServerRequest } from "@effect/platform"
import { Effect, type Scope } from "effect"
import * as HttpKit from "../http/HttpKit.js"
import type { LogStorageShape } from "../raft/LogStorage.js"
import type { RaftShape } from "../raft/Raft.js"
import type { ReplicatedStateMachine } from "../raft/ReplicatedStateMachine.js"
import type { TcpTransport } from "../rpc/Tcp.js"
import * as Health from "./Health.js"
import * as Metrics from "./Metrics.js"
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

const get = (request: HttpServerRequest.HttpServerRequest, path: string) =>
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

    return (request) => {
      const path = new URL(request.url, "http://localhost").pathname
      switch (path) {
        case "/metrics":
          return get(request, path) ?? Effect.map(Metrics.render(sources), (text) =>
            HttpServerResponse.text(text, { contentType: Prometheus.contentType }))
        case "/health":
          return get(request, path) ?? Effect.map(health.check, (r) => HttpKit.json(r, r.healthy ? 200 : 503))
        default:
          return undefined
      }
    }
  })
