/** HttpKit's client token on a real loopback HTTP server: which paths need it, what a refusal says. */
import { HttpServerRequest } from "@effect/platform"
import { it } from "@effect/vitest"
import { Effect } from "effect"
import { describe, expect } from "vitest"
import * as HttpKit from "../../src/http/HttpKit.js"

const app = Effect.map(HttpServerRequest.HttpServerRequest, (r) => HttpKit.json({ path: r.url }))

const get = (port: number, path: string, headers: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const r = await fetch(`http://127.0.0.1:${port}${path}`, { headers })
    return { status: r.status, auth: r.headers.get("www-authenticate"), json: (await r.json()) as any }
  })

describe("HttpKit token", () => {
  it.scopedLive("every path but /, /health and /metrics needs the Bearer token; refusals are 401 with a reason", () =>
    Effect.gen(function*() {
      const { port } = yield* HttpKit.serve(app, { host: "127.0.0.1", port: 0, security: { token: "t0k3n" } })
      const ok = { authorization: "Bearer t0k3n" }
      expect(yield* get(port, "/v1/kv/x", ok)).toMatchObject({ status: 200, json: { path: "/v1/kv/x" } })
      expect(yield* get(port, "/v1/kv/x", { authorization: "bearer t0k3n" })).toMatchObject({ status: 200 })
      for (const path of ["/", "/health", "/metrics"]) expect((yield* get(port, path)).status).toBe(200)
      const refused: ReadonlyArray<readonly [string, Record<string, string>, string]> = [
        ["/v1/kv/x", {}, "this server requires a token: send Authorization: Bearer <token>"],
        ["/v1/kv/x", { authorization: "t0k3n" }, "the Authorization header must be Bearer <token>"],
        ["/v1/kv/x", { authorization: "Bearer t0k3" }, "wrong token"],
        ["/v1/kv/x", { authorization: "Bearer t0k3n0" }, "wrong token"],
        ["/anything/else", {}, "this server requires a token: send Authorization: Bearer <token>"]
      ]
      for (const [path, headers, message] of refused) {
        const r = yield* get(port, path, headers)
        expect(r, `${path} ${JSON.stringify(headers)}`).toMatchObject({ status: 401, auth: "Bearer", json: { error: { code: "unauthorized", message } } })
      }
    }))

  it.scopedLive("without a token nothing is checked", () =>
    Effect.gen(function*() {
      const { port } = yield* HttpKit.serve(app, { host: "127.0.0.1", port: 0 })
      expect((yield* get(port, "/v1/kv/x")).status).toBe(200)
    }))
})
