/**
 * The shard controller over HTTP/JSON, served by every controller replica. Any replica accepts any
 * request and forwards it to the leader over the cluster's TCP transport.
 *
 *   GET  /v1/config[/{num}]   the latest config (or config num; beyond the latest: the latest);
 *                             ?consistency=local reads this replica's own copy
 *   POST /v1/join             {"groups": {"100": ["host:port", ...], ...}}   → the new config
 *   POST /v1/leave            {"gids": [100, ...]}                          → the new config
 *   POST /v1/move             {"shard": 3, "gid": 100}                      → the new config
 *   GET  /v1/status           id, role, term, leader, commit, applied, config (the latest num), sizes
 *
 * A config is `{"num", "shards": [gid per shard], "groups": {"gid": [servers]}, "keyToShard"}`.
 * `X-Client-Id` + `X-Request-Seq` make a retried join/leave/move execute once: the retry answers 200
 * with the config it first made. Errors are `HttpKit`'s JSON errors; a command the controller cannot
 * apply (a gid already joined or not joined, a shard out of range, a group with no servers) is
 * `bad_request`.
 * @since 0.1.0
 */
import { Effect, type Scope } from "effect"
import * as HttpKit from "../http/HttpKit.js"
import type { Transport } from "../rpc/Transport.js"
import { type Gid, toJson } from "./Config.js"
import * as CtrlClient from "./CtrlClient.js"
import type { CtrlServerShape } from "./CtrlServer.js"
import * as Ctrl from "./CtrlStateMachine.js"

export interface Options extends HttpKit.ServeOptions {
  /** Every replica's id (forwarding targets). */
  readonly servers: ReadonlyArray<string>
  /** A request that cannot complete in this time (no leader) is answered 503 unavailable. Default 5 s. */
  readonly requestTimeoutMs?: number
  /** Forwarding clients (requests in flight per replica). */
  readonly clients?: number
}

const isGid = (n: unknown): n is Gid => typeof n === "number" && Number.isSafeInteger(n) && n > 0

const badJson = (message: string) => HttpKit.reject("bad_json", message)

/** `{"groups": {"100": ["a", ...]}}` → gid → servers. */
const joinBody = (body: unknown) => {
  const groups = (body as { groups?: unknown } | null)?.groups
  if (typeof groups !== "object" || groups === null || Array.isArray(groups)) {
    return badJson(`a join body is {"groups": {"<gid>": ["<server>", ...], ...}}`)
  }
  const out = new Map<Gid, ReadonlyArray<string>>()
  for (const [key, servers] of Object.entries(groups)) {
    const gid = /^\d+$/.test(key) ? Number(key) : NaN
    if (!isGid(gid)) return HttpKit.reject("bad_request", `gid ${JSON.stringify(key)} is not a positive integer`)
    if (!Array.isArray(servers) || servers.some((s) => typeof s !== "string" || s.length === 0)) {
      return badJson(`group ${key}: servers must be a list of non-empty strings`)
    }
    out.set(gid, servers as Array<string>)
  }
  return Effect.succeed(out)
}

const leaveBody = (body: unknown) => {
  const gids = (body as { gids?: unknown } | null)?.gids
  if (!Array.isArray(gids)) return badJson(`a leave body is {"gids": [<gid>, ...]}`)
  const bad = gids.find((g) => !isGid(g))
  return bad === undefined ? Effect.succeed(gids as Array<Gid>) : HttpKit.reject("bad_request", `gid ${JSON.stringify(bad)} is not a positive integer`)
}

const moveBody = (body: unknown) => {
  const b = body as { shard?: unknown; gid?: unknown } | null
  if (typeof b?.shard !== "number" || typeof b.gid !== "number") return badJson(`a move body is {"shard": <n>, "gid": <gid>}`)
  if (!Number.isSafeInteger(b.shard) || b.shard < 0) return HttpKit.reject("bad_request", `shard ${b.shard} is out of range`)
  if (!isGid(b.gid)) return HttpKit.reject("bad_request", `gid ${b.gid} is not a positive integer`)
  return Effect.succeed({ shard: b.shard, gid: b.gid })
}

/** Serves the HTTP API in the current scope; returns the bound port. */
export const serve = (
  ctrl: CtrlServerShape,
  options: Options
): Effect.Effect<{ readonly port: number }, HttpKit.ServeError, Transport | Scope.Scope> =>
  Effect.gen(function*() {
    const withClient = yield* HttpKit.forwarding(
      CtrlClient.make({ servers: options.servers, callTimeout: "2 seconds", retryPause: "20 millis" }),
      { size: options.clients ?? 8, timeoutMs: options.requestTimeoutMs ?? 5000 }
    )
    const forward = <A>(f: (c: CtrlClient.CtrlClientShape) => Effect.Effect<A, CtrlClient.CtrlError>) =>
      withClient(f).pipe(
        Effect.catchTags({
          InvalidRequest: (e) => Effect.fail(HttpKit.fromInvalid(e)),
          CtrlTimeout: (e) => HttpKit.reject("unavailable", e.message)
        })
      )

    const command = (request: HttpKit.RequestShape, op: "join" | "leave" | "move") =>
      Effect.gen(function*() {
        if (request.method !== "POST") return yield* HttpKit.reject("method_not_allowed", `use POST /v1/${op}`)
        const body = yield* HttpKit.bodyJson(request)
        const c: CtrlClient.Forwarded = op === "join"
          ? { op, groups: yield* joinBody(body) }
          : op === "leave"
          ? { op, gids: yield* leaveBody(body) }
          : { op, ...(yield* moveBody(body)) }
        const who = yield* HttpKit.identity(request)
        const config = yield* forward((client) => {
          if (who !== undefined) return client.forward(c, who)
          return c.op === "join" ? client.join(c.groups) : c.op === "leave" ? client.leave(c.gids) : client.move(c.shard, c.gid)
        })
        return HttpKit.json(toJson(config))
      })

    const route = Effect.gen(function*() {
      const request = yield* HttpKit.Request
      const url = new URL(request.url, "http://localhost")
      const path = url.pathname
      if (path === "/v1/status") {
        if (request.method !== "GET") return yield* HttpKit.reject("method_not_allowed", "use GET /v1/status")
        return HttpKit.json({ ...(yield* ctrl.status) })
      }
      if (path === "/v1/join" || path === "/v1/leave" || path === "/v1/move") {
        return yield* command(request, path.slice(4) as "join" | "leave" | "move")
      }
      const m = /^\/v1\/config(?:\/([^/]*))?$/.exec(path)
      if (m === null) return yield* HttpKit.reject("not_found", `no such resource: ${path.slice(0, 100)}`)
      if (request.method !== "GET") return yield* HttpKit.reject("method_not_allowed", "use GET /v1/config[/{num}]")
      const num = m[1] === undefined ? -1 : /^\d{1,15}$/.test(m[1]) ? Number(m[1]) : NaN
      if (Number.isNaN(num)) return yield* HttpKit.reject("bad_request", `config number ${JSON.stringify(m[1])} is not a non-negative integer`)
      if (url.searchParams.get("consistency") === "local") {
        const local = yield* ctrl.replica.local
        return HttpKit.json(toJson(Ctrl.query(local.state, num)))
      }
      return HttpKit.json(toJson(yield* forward((c) => c.query(num))))
    })

    return yield* HttpKit.serve(route, options)
  })
