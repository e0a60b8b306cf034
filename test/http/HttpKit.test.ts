/** HttpKit's client token on a real loopback HTTP server: which paths need it, what a refusal says. */
import { it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, FiberId } from "effect"
import * as http from "node:http"
import { describe, expect } from "vitest"
import * as HttpKit from "../../src/http/HttpKit.js"
import * as Limits from "../../src/kv/Limits.js"

const app = Effect.map(HttpKit.Request, (r) => HttpKit.json({ path: r.url }))

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

const request = (port: number, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}) =>
  Effect.promise(() =>
    new Promise<{ status: number; type: string | undefined; body: string }>((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port, method, path, headers }, (res) => {
        let text = ""
        res.setEncoding("utf8")
        res.on("data", (d) => (text += d))
        res.on("end", () => resolve({ status: res.statusCode!, type: res.headers["content-type"], body: text }))
      })
      req.on("error", reject)
      req.end(body)
    })
  )

describe("HttpKit server", () => {
  const echo = Effect.gen(function*() {
    const r = yield* HttpKit.Request
    if (r.url === "/die") return yield* Effect.die("boom")
    const value = yield* HttpKit.bodyValue(r, { ...Limits.defaults, maxValueBytes: 10 })
    return HttpKit.json({ method: r.method, url: r.url, value, who: yield* HttpKit.identity(r) })
  })

  it.scopedLive("routes see method, URL, headers and body; bad input is a JSON error with its code", () =>
    Effect.gen(function*() {
      const { port } = yield* HttpKit.serve(echo, { host: "127.0.0.1", port: 0 })
      const ok = yield* request(port, "PUT", "/v1/kv/a?x=1", "hello", { "x-client-id": "7", "x-request-seq": "3" })
      expect(ok.status).toBe(200)
      expect(ok.type).toBe("application/json")
      expect(JSON.parse(ok.body)).toEqual({ method: "PUT", url: "/v1/kv/a?x=1", value: "hello", who: { clientId: 7, seq: 3 } })
      const json = yield* request(port, "PUT", "/k", JSON.stringify({ value: "v" }), { "content-type": "application/json" })
      expect(JSON.parse(json.body).value).toBe("v")
      // Declared too large: refused before the body is read. Chunked and too large: cut off as it arrives.
      const declared = yield* request(port, "PUT", "/k", "x".repeat(5000))
      expect(declared.status).toBe(413)
      expect(JSON.parse(declared.body).error.code).toBe("value_too_large")
      const chunked = yield* Effect.promise(() =>
        new Promise<number>((resolve, reject) => {
          const req = http.request({ host: "127.0.0.1", port, method: "PUT", path: "/k" }, (res) => (res.resume(), resolve(res.statusCode!)))
          req.on("error", reject)
          req.write("x".repeat(3000))
          req.end("x".repeat(3000))
        })
      )
      expect(chunked).toBe(413)
      const half = yield* request(port, "PUT", "/k", "v", { "x-client-id": "7" })
      expect(JSON.parse(half.body).error).toEqual({ code: "bad_request", message: "send both X-Client-Id and X-Request-Seq, or neither" })
      const died = yield* request(port, "GET", "/die")
      expect(died.status).toBe(500)
      expect(JSON.parse(died.body).error.code).toBe("internal")
      // The server still serves after all of it.
      expect((yield* request(port, "PUT", "/k", "again")).status).toBe(200)
    }))

  it.scopedLive("a caller that hangs up interrupts its request", () =>
    Effect.gen(function*() {
      const interrupted = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      const app = Effect.zipRight(Deferred.succeed(started, undefined), Effect.never).pipe(
        Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
      )
      const { port } = yield* HttpKit.serve(app, { host: "127.0.0.1", port: 0 })
      const req = http.request({ host: "127.0.0.1", port, method: "GET", path: "/wait" })
      req.on("error", () => {})
      req.end()
      yield* Deferred.await(started)
      req.destroy()
      yield* Deferred.await(interrupted)
    }))

  it.scopedLive("a port in use is a ServeError with a plain message", () =>
    Effect.gen(function*() {
      const { port } = yield* HttpKit.serve(echo, { host: "127.0.0.1", port: 0 })
      const e = yield* Effect.flip(HttpKit.serve(echo, { host: "127.0.0.1", port }))
      expect(e.message).toBe(`cannot serve HTTP on 127.0.0.1:${port}: address already in use`)
    }))
})

describe("HttpKit.forwarding", () => {
  it.scopedLive("at most `size` clients, made on need; others wait in order; past the timeout 503 unavailable", () =>
    Effect.gen(function*() {
      let made = 0
      const withClient = yield* HttpKit.forwarding(Effect.sync(() => ++made), { size: 2, timeoutMs: 300 })
      const order: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const hold = (name: string) => withClient((c) => Effect.zipRight(Deferred.await(gate), Effect.sync(() => (order.push(name), c))))
      const fibers = yield* Effect.forEach(["a", "b", "c", "d"], (n) => Effect.fork(hold(n)))
      yield* Effect.sleep("20 millis")
      expect(made).toBe(2)
      yield* Deferred.succeed(gate, undefined)
      const used = yield* Effect.forEach(fibers, Fiber.join)
      expect(made).toBe(2)
      expect(order).toEqual(["a", "b", "c", "d"])
      expect([...used].sort()).toEqual([1, 1, 2, 2])
      // A request that takes too long answers unavailable, and gives its client back.
      const slow = yield* Effect.flip(withClient(() => Effect.never))
      expect(slow).toMatchObject({ _tag: "HttpFailure", code: "unavailable" })
      const gate2 = yield* Deferred.make<void>()
      const both = yield* Effect.fork(Effect.forEach([1, 2], () => withClient((c) => Effect.as(Deferred.await(gate2), c)), { concurrency: "unbounded" }))
      yield* Effect.sleep("20 millis")
      yield* Deferred.succeed(gate2, undefined)
      const after = yield* Fiber.join(both)
      expect([...after].sort()).toEqual([1, 2])
      expect(made).toBe(2)
    }))

  it.scopedLive("a waiter interrupted just as a client is handed to it passes the client on", () =>
    Effect.gen(function*() {
      const withClient = yield* HttpKit.forwarding(Effect.succeed("c"), { size: 1, timeoutMs: 60_000 })
      const gate = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(withClient(() => Deferred.await(gate)))
      yield* Effect.sleep("10 millis")
      const waiter = yield* Effect.fork(withClient(() => Effect.succeed("waiter")))
      yield* Effect.sleep("10 millis")
      // In one step: the holder is let go (its release hands the client to the waiter), and the waiter
      // is interrupted before it runs again.
      yield* Effect.sync(() => {
        Deferred.unsafeDone(gate, Effect.void)
        waiter.unsafeInterruptAsFork(FiberId.none)
      })
      yield* Fiber.await(holder)
      expect(Exit.isInterrupted(yield* Fiber.await(waiter))).toBe(true)
      const next = yield* Effect.timeout(withClient((c) => Effect.succeed(c)), "2 seconds")
      expect(next).toBe("c")
    }))

  it.scopedLive("inside serve, an overdue forwarded request is answered 503 at once and its handler interrupted", () =>
    Effect.gen(function*() {
      const withClient = yield* HttpKit.forwarding(Effect.succeed("c"), { size: 1, timeoutMs: 150 })
      const interrupted = yield* Deferred.make<void>()
      const app = Effect.flatMap(HttpKit.Request, (r) =>
        r.url === "/stuck"
          ? withClient(() => Effect.never).pipe(Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined)))
          : Effect.map(withClient((c) => Effect.succeed(c)), (c) => HttpKit.json({ client: c })))
      const { port } = yield* HttpKit.serve(app, { host: "127.0.0.1", port: 0 })
      const stuck = yield* request(port, "GET", "/stuck") // never answered without the deadline
      expect(stuck.status).toBe(503)
      expect(JSON.parse(stuck.body).error).toEqual({
        code: "unavailable",
        message: "no leader answered within 150ms; the cluster may have lost its majority"
      })
      yield* Deferred.await(interrupted)
      // Its client went back to the pool: the next request gets it.
      expect(JSON.parse((yield* request(port, "GET", "/ok")).body)).toEqual({ client: "c" })
    }))

  it.scopedLive("an interrupted request, waiting or running, leaves the pool whole", () =>
    Effect.gen(function*() {
      const withClient = yield* HttpKit.forwarding(Effect.succeed("c"), { size: 1, timeoutMs: 5_000 })
      const running = yield* Effect.fork(withClient(() => Effect.never))
      const waiting = yield* Effect.fork(withClient(() => Effect.succeed("never reached")))
      yield* Effect.sleep("20 millis")
      yield* Fiber.interrupt(waiting)
      yield* Fiber.interrupt(running)
      expect(yield* withClient((c) => Effect.succeed(c))).toBe("c")
    }))
})
