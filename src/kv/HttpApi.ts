/**
 * The key/value service over HTTP/JSON, served by every node. Any node accepts any request: reads and
 * writes are forwarded to the leader over the cluster's own TCP transport (a pool of `KvClient`s),
 * so a client can talk to whichever node it likes.
 *
 *   GET    /v1/kv/{key}            {"key","value"}   linearizable ("" if absent); ?consistency=local reads this node's copy
 *   PUT    /v1/kv/{key}            body = value      (raw, or {"value": "..."} with Content-Type: application/json)
 *   POST   /v1/kv/{key}/append     body = suffix
 *   DELETE /v1/kv/{key}
 *   GET    /v1/status              this node: id, role, term, leader, commit, applied, log bytes, snapshot index
 *   GET    /v1/members             the configuration (each member's id, role, address; match on the leader)
 *   POST   /v1/members             body {"id","address"}: add a learner
 *   POST   /v1/members/{id}/promote   make a learner a voter (once caught up)
 *   DELETE /v1/members/{id}        remove a member
 *
 * Membership changes run at the leader (forwarded) and answer once committed: `{"ok":true,"index":N}`;
 * refusals: 400 `bad_request` (already a member, the last voter), 404 `not_found` (unknown node), 503
 * `unavailable` (another change in progress, a learner not caught up, no majority: retry).
 *
 * Keys are one path segment, percent-encoded (`/` as %2F). A write carrying both `X-Client-Id` and
 * `X-Request-Seq` is executed once per (id, seq): a client that retries with the same pair (after a
 * timeout, say) cannot apply it twice. Use a random id per client, sequence numbers 1, 2, 3, ..., and
 * one request at a time per id. Errors are JSON with the stable codes of `HttpKit`. A request that
 * cannot complete within `requestTimeoutMs` (no leader) is answered 503 `unavailable`, and its
 * retries stop then, or as soon as its caller hangs up.
 * @since 0.1.0
 */
import { Effect, type Scope } from "effect"
import * as HttpKit from "../http/HttpKit.js"
import type { Transport, TransportError } from "../rpc/Transport.js"
import type { NotLeader } from "../raft/Messages.js"
import * as KvClient from "./KvClient.js"
import * as Kv from "./KvStateMachine.js"
import type { KvServerShape } from "./KvServer.js"
import * as Limits from "./Limits.js"
import * as Members from "./Members.js"
import type { MemberRefused } from "./Messages.js"

export interface Options extends HttpKit.ServeOptions {
  /** Every member's id (forwarding targets). */
  readonly servers: ReadonlyArray<string>
  /** Key and value limits; default `Limits.defaults` (the servers' own). */
  readonly limits?: Limits.Limits
  /** A request that cannot complete in this time (no leader) is answered 503 unavailable. Default 5 s. */
  readonly requestTimeoutMs?: number
  /** Forwarding clients (requests in flight per node). */
  readonly clients?: number
}


/** A key/value HTTP API's backend: how to make forwarding clients, and this node's own answers. */
export interface Backend {
  /** A client that forwards to whichever servers can answer (made `clients` times, pooled). */
  readonly client: Effect.Effect<KvClient.KvOperations, never, Transport>
  /** `GET /v1/status`. */
  readonly status: Effect.Effect<object>
  /** `GET /v1/kv/{key}?consistency=local`: this node's own copy. */
  readonly local: (key: string) => Effect.Effect<object>
  /** `/v1/members`: the configuration and its changes (absent: not served). */
  readonly members?: {
    readonly view: Effect.Effect<object>
    readonly change: (c: Members.Change) => Effect.Effect<number, MemberRefused | TransportError | NotLeader, Transport>
  }
}

const refusalCode = (e: MemberRefused | TransportError | NotLeader): HttpKit.Code =>
  e._tag !== "MemberRefused"
    ? "unavailable"
    : e.reason === "UnknownNode"
    ? "not_found"
    : e.reason === "AlreadyMember" || e.reason === "LastVoter"
    ? "bad_request"
    : "unavailable"

const ID = /^[A-Za-z0-9_.-]{1,64}$/
const ADDRESS = /^[^\s:]+:\d{1,5}$/

/** The `/v1/members` routes. */
const membersRoute = (
  members: NonNullable<Backend["members"]>,
  request: HttpKit.RequestShape,
  path: string
) =>
  Effect.gen(function*() {
    const changed = (c: Members.Change) =>
      members.change(c).pipe(
        Effect.map((index) => HttpKit.json({ ok: true, index })),
        Effect.catchAll((e) => HttpKit.reject(refusalCode(e), e.message))
      )
    if (path === "/v1/members") {
      if (request.method === "GET") return HttpKit.json(yield* members.view)
      if (request.method !== "POST") return yield* HttpKit.reject("method_not_allowed", "use GET or POST /v1/members")
      const body = (yield* HttpKit.bodyJson(request, 4096)) as { id?: unknown; address?: unknown } | null
      const id = body?.id
      const address = body?.address
      if (typeof id !== "string" || !ID.test(id)) {
        return yield* HttpKit.reject("bad_request", `the body must be {"id": "...", "address": "host:port"}; id: 1-64 of A-Z a-z 0-9 _ . -`)
      }
      if (typeof address !== "string" || !ADDRESS.test(address)) {
        return yield* HttpKit.reject("bad_request", `"address" must be the new node's Raft/KV host:port`)
      }
      return yield* changed({ op: "add", id, address })
    }
    const rest = decodeURIComponent(path.slice("/v1/members/".length))
    if (rest.endsWith("/promote")) {
      if (request.method !== "POST") return yield* HttpKit.reject("method_not_allowed", "use POST /v1/members/{id}/promote")
      return yield* changed({ op: "promote", id: rest.slice(0, -"/promote".length) })
    }
    if (request.method !== "DELETE") return yield* HttpKit.reject("method_not_allowed", "use DELETE /v1/members/{id}")
    return yield* changed({ op: "remove", id: rest })
  })

/** Serves the key/value routes for `backend` in the current scope; returns the bound port. */
export const serveBackend = (
  backend: Backend,
  options: Omit<Options, "servers">
): Effect.Effect<{ readonly port: number }, HttpKit.ServeError, Transport | Scope.Scope> =>
  Effect.gen(function*() {
    const limits = options.limits ?? Limits.defaults
    const context = yield* Effect.context<Transport>()
    const withClient = yield* HttpKit.forwarding(backend.client, {
      size: options.clients ?? 32,
      timeoutMs: options.requestTimeoutMs ?? 5000
    })
    const forward = <A>(f: (c: KvClient.KvOperations) => Effect.Effect<A, KvClient.KvError>) =>
      withClient(f).pipe(Effect.catchTag("InvalidRequest", (e) => Effect.fail(HttpKit.fromInvalid(e))))

    const write = (request: HttpKit.RequestShape, op: "put" | "append" | "delete", key: string) =>
      Effect.gen(function*() {
        const value = op === "delete" ? "" : yield* HttpKit.bodyValue(request, limits)
        const who = yield* HttpKit.identity(request)
        yield* forward((c) =>
          who === undefined
            ? op === "delete" ? c.delete(key) : op === "put" ? c.put(key, value) : c.append(key, value)
            : c.forward({ op, key, value, ...who })
        )
        return HttpKit.json({ ok: true })
      })

    const route = Effect.gen(function*() {
      const request = yield* HttpKit.Request
      const url = new URL(request.url, "http://localhost")
      const path = url.pathname
      if (path === "/v1/status") {
        if (request.method !== "GET") return yield* HttpKit.reject("method_not_allowed", "use GET /v1/status")
        return HttpKit.json({ ...(yield* backend.status) })
      }
      if ((path === "/v1/members" || path.startsWith("/v1/members/")) && backend.members !== undefined) {
        return yield* Effect.provide(membersRoute(backend.members, request, path), context)
      }
      if (!path.startsWith("/v1/kv/")) return yield* HttpKit.reject("not_found", `no such resource: ${path.slice(0, 100)}`)
      const rest = path.slice("/v1/kv/".length)
      const append = rest.endsWith("/append")
      const key = yield* HttpKit.pathKey(append ? rest.slice(0, -"/append".length) : rest, limits)
      if (append) {
        if (request.method !== "POST") return yield* HttpKit.reject("method_not_allowed", "use POST /v1/kv/{key}/append")
        return yield* write(request, "append", key)
      }
      switch (request.method) {
        case "GET": {
          if (url.searchParams.get("consistency") === "local") return HttpKit.json(yield* backend.local(key))
          const value = yield* forward((c) => c.get(key))
          return HttpKit.json({ key, value })
        }
        case "PUT":
          return yield* write(request, "put", key)
        case "DELETE":
          return yield* write(request, "delete", key)
        default:
          return yield* HttpKit.reject("method_not_allowed", `${request.method} is not supported on /v1/kv/{key}`)
      }
    })

    return yield* HttpKit.serve(route.pipe(Effect.catchTag("KvTimeout", (e) => HttpKit.reject("unavailable", e.message))), options)
  })

/** Serves the key/value service's HTTP API in the current scope; returns the bound port. */
export const serve = (
  kv: KvServerShape,
  options: Options
): Effect.Effect<{ readonly port: number }, HttpKit.ServeError, Transport | Scope.Scope> =>
  serveBackend({
    // The node's transport learns members added later (their addresses come with the configuration).
    client: KvClient.make({ servers: options.servers, callTimeout: "2 seconds", limits: options.limits ?? Limits.defaults, followUnlisted: true }),
    status: kv.status,
    local: (key) => Effect.map(kv.replica.local, (local) => ({ key, value: Kv.get(local.state, key), applied: local.applied })),
    members: {
      view: Effect.map(Members.viewOf(kv.replica.raft), (v) => ({ ...v })),
      change: (c) => Members.change([kv.replica.raft.id], c, "5 seconds")
    }
  }, options)
