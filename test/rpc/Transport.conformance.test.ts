/**
 * One conformance suite, run against both Transport Layers: the simulated network (inside a seeded
 * Simulation, virtual time) and TCP (real loopback sockets, real time). The tests are labrpc's own
 * (Basic, Types, Disconnect, Counts, ConcurrentMany, ConcurrentOne, Killed) plus typed failures,
 * remote defects, unknown methods and restart.
 */
import { it } from "@effect/vitest"
import { Clock, Context, Effect, Either, Exit, Layer, Schema, Scope } from "effect"
import { describe, expect } from "vitest"
import * as SimNetwork from "../../src/rpc/SimNetwork.js"
import * as Tcp from "../../src/rpc/Tcp.js"
import * as Transport from "../../src/rpc/Transport.js"
import { simTest } from "../support/simTest.js"
import {
  Crash,
  Divide,
  DivideByZero,
  Echo,
  Length,
  RoundTrip,
  Sleep,
  Slow,
  type TestRequest,
  TestProtocol,
  testHandlers,
  TooSlow
} from "./protocol.js"

/** What a conformance test needs from a network, whichever Layer implements it. */
interface Net {
  /**
   * Starts server `name` in the current scope. `handled` counts requests its handlers ran,
   * `interrupted` the `Slow` handlers interrupted.
   */
  readonly startServer: (
    name: string,
    options?: Transport.ServeOptions<TestRequest>
  ) => Effect.Effect<{ readonly handled: () => number; readonly interrupted: () => number }, never, Scope.Scope>
  /** Stops server `name` (crash: its scope closes). */
  readonly killServer: (name: string) => Effect.Effect<void>
  /** A client node named `name` with a route to each of `servers`. */
  readonly client: (name: string, servers: ReadonlyArray<string>) => Effect.Effect<Transport.TransportShape, never, Scope.Scope>
}
class NetTag extends Context.Tag("test/Net")<NetTag, Net>() {}

const simNet: Layer.Layer<NetTag | SimNetwork.SimNetwork> = Layer.effect(
  NetTag,
  Effect.gen(function*() {
    const net = yield* SimNetwork.SimNetwork
    const scopes = new Map<string, Scope.CloseableScope>()
    return NetTag.of({
      startServer: (name, options) =>
        Effect.gen(function*() {
          let handled = 0
          let interrupted = 0
          const scope = yield* Scope.make()
          scopes.set(name, scope)
          const transport = net.transport({ self: name, ends: {} })
          yield* transport.serve(TestProtocol, testHandlers(() => handled++, () => interrupted++), options).pipe(Scope.extend(scope))
          yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
          return { handled: () => handled, interrupted: () => interrupted }
        }),
      killServer: (name) => Effect.suspend(() => Scope.close(scopes.get(name)!, Exit.void)),
      client: (name, servers) => net.meshTransport(name, servers)
    })
  })
).pipe(Layer.provideMerge(SimNetwork.layer()))

const tcpNet: Layer.Layer<NetTag> = Layer.sync(NetTag, () => {
  const scopes = new Map<string, Scope.CloseableScope>()
  const ports = new Map<string, number>()
  return NetTag.of({
    startServer: (name, options) =>
      Effect.gen(function*() {
        let handled = 0
        let interrupted = 0
        const scope = yield* Scope.make()
        scopes.set(name, scope)
        // A restarted server comes back on its old port, as a restarted peer would.
        const transport = yield* Tcp.make({ self: name, listen: { port: ports.get(name) ?? 0 } }).pipe(
          Scope.extend(scope),
          Effect.orDie
        )
        ports.set(name, transport.address!.port)
        yield* transport.serve(TestProtocol, testHandlers(() => handled++, () => interrupted++), options).pipe(Scope.extend(scope))
        yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
        return { handled: () => handled, interrupted: () => interrupted }
      }),
    killServer: (name) => Effect.suspend(() => Scope.close(scopes.get(name)!, Exit.void)),
    client: (name, servers) =>
      Effect.suspend(() => {
        const peers: Record<string, string> = {}
        for (const s of servers) peers[s] = `127.0.0.1:${ports.get(s)}`
        return Effect.orDie(Tcp.make({ self: name, peers, callTimeout: "5 seconds" }))
      })
  })
})

const conformance: ReadonlyArray<readonly [string, Effect.Effect<void, unknown, NetTag | Scope.Scope>]> = [
  ["Basic", Effect.gen(function*() {
    const net = yield* NetTag
    yield* net.startServer("server")
    const client = yield* net.client("client", ["server"])
    expect(yield* client.call("server", new Echo({ text: "hello" }))).toBe("hello")
    expect(yield* client.call("server", new Length({ text: "four" }))).toBe(4)
  })],
  ["Counters", Effect.gen(function*() {
    const net = yield* NetTag
    yield* net.startServer("server")
    const client = yield* net.client("client", ["server"])
    const zero = yield* client.counters
    for (let i = 0; i < 5; i++) yield* client.call("server", new Echo({ text: "x".repeat(100) }))
    const after = yield* client.counters
    expect(after.calls - zero.calls).toBe(5)
    expect(after.callFailures).toBe(zero.callFailures)
    // Each way at least the 100-byte text, five times.
    expect(after.bytesSent - zero.bytesSent).toBeGreaterThan(500)
    expect(after.bytesReceived - zero.bytesReceived).toBeGreaterThan(500)
    yield* net.killServer("server")
    expect(Either.isLeft(yield* Effect.either(client.call("server", new Echo({ text: "gone" }), { timeout: "2 seconds" })))).toBe(true)
    const failed = yield* client.counters
    expect(failed.calls - after.calls).toBe(1)
    expect(failed.callFailures - after.callFailures).toBe(1)
  })],
  ["Types", Effect.gen(function*() {
    const net = yield* NetTag
    yield* net.startServer("server")
    const client = yield* net.client("client", ["server"])
    const value = {
      ints: [1, -2, 3_000_000_000],
      bytes: new Uint8Array([0, 1, 254, 255]),
      nested: { flag: true, label: "x" },
      byName: { a: 1.5, b: -0.25 },
      tagged: { _tag: "B" as const, b: "bee" }
    }
    const back = yield* client.call("server", new RoundTrip({ value }))
    expect(back).toEqual(value)
    expect(back.bytes).not.toBe(value.bytes) // decoded copy: nodes never share memory
    const noLabel = { ...value, nested: { flag: false }, tagged: { _tag: "A" as const, a: 7 } }
    expect(yield* client.call("server", new RoundTrip({ value: noLabel }))).toEqual(noLabel)
  })],
  ["TypedFailure", Effect.gen(function*() {
    const net = yield* NetTag
    yield* net.startServer("server")
    const client = yield* net.client("client", ["server"])
    expect(yield* client.call("server", new Divide({ a: 7, b: 2 }))).toBe(3)
    const err = yield* Effect.flip(client.call("server", new Divide({ a: 7, b: 0 })))
    expect(err).toBeInstanceOf(DivideByZero)
    expect((err as DivideByZero).dividend).toBe(7)
  })],
  ["RemoteDefectAndUnknownMethod", Effect.gen(function*() {
    const net = yield* NetTag
    yield* net.startServer("server")
    const client = yield* net.client("client", ["server"])
    const died = yield* Effect.flip(client.call("server", new Crash()))
    expect(died).toMatchObject({ _tag: "TransportError", reason: "Remote" })
    class NotServed extends Schema.TaggedRequest<NotServed>()("NotServed", {
      failure: Schema.Never,
      success: Schema.Void,
      payload: {}
    }) {}
    const unknown = yield* Effect.flip(client.call("server", new NotServed()))
    expect(unknown).toMatchObject({ _tag: "TransportError", reason: "Protocol" })
    expect(unknown.message).toContain("unknown method NotServed")
    // The server keeps serving after both.
    expect(yield* client.call("server", new Echo({ text: "still here" }))).toBe("still here")
  })],
  ["Counts", Effect.gen(function*() {
    const net = yield* NetTag
    const server = yield* net.startServer("server")
    const client = yield* net.client("client", ["server"])
    for (let i = 0; i < 17; i++) expect(yield* client.call("server", new Length({ text: "x".repeat(i) }))).toBe(i)
    expect(server.handled()).toBe(17)
  })],
  ["ConcurrentMany", Effect.gen(function*() {
    const net = yield* NetTag
    const server = yield* net.startServer("server")
    const results = yield* Effect.forEach(
      Array.from({ length: 20 }, (_, i) => i),
      (c) =>
        Effect.gen(function*() {
          const client = yield* net.client(`client-${c}`, ["server"])
          let ok = 0
          for (let j = 0; j < 10; j++) {
            if ((yield* client.call("server", new Echo({ text: `${c}/${j}` }))) === `${c}/${j}`) ok++
          }
          return ok
        }),
      { concurrency: "unbounded" }
    )
    expect(results.reduce((a, b) => a + b, 0)).toBe(200)
    expect(server.handled()).toBe(200)
  })],
  ["ConcurrentOne", Effect.gen(function*() {
    const net = yield* NetTag
    const server = yield* net.startServer("server")
    const client = yield* net.client("client", ["server"])
    const replies = yield* Effect.forEach(
      Array.from({ length: 20 }, (_, i) => i),
      (i) => client.call("server", new Length({ text: "z".repeat(i) })),
      { concurrency: "unbounded" }
    )
    expect(replies).toEqual(Array.from({ length: 20 }, (_, i) => i))
    expect(server.handled()).toBe(20)
  })],
  ["Killed", Effect.gen(function*() {
    // A call whose handler would take 20 s fails promptly once the server is killed.
    const net = yield* NetTag
    yield* net.startServer("server")
    const client = yield* net.client("client", ["server"])
    const pending = yield* Effect.fork(Effect.either(client.call("server", new Sleep({ ms: 20_000 }))))
    yield* Effect.sleep("50 millis")
    yield* net.killServer("server")
    const result = yield* pending.await.pipe(Effect.flatten)
    expect(Either.isLeft(result)).toBe(true)
    expect(Either.getLeft(result).pipe((o) => o._tag === "Some" && o.value._tag === "TransportError" && o.value.reason !== "Timeout")).toBe(true)
  })],
  ["ServerDeadline", Effect.gen(function*() {
    // A request past the server's deadline is answered with the failure it names, and its handler
    // interrupted; a request the deadline exempts runs to its end; one within it is answered as usual.
    const net = yield* NetTag
    const server = yield* net.startServer("server", {
      deadline: { ms: 200, onTimeout: (r) => r._tag === "Slow" ? new TooSlow({ ms: r.ms }) : undefined }
    })
    const client = yield* net.client("client", ["server"])
    expect(yield* client.call("server", new Slow({ ms: 20 }))).toBe(20)
    const started = yield* Clock.currentTimeMillis
    const late = yield* Effect.flip(client.call("server", new Slow({ ms: 20_000 })))
    const waited = (yield* Clock.currentTimeMillis) - started
    expect(late).toEqual(new TooSlow({ ms: 20_000 }))
    expect(waited).toBeGreaterThanOrEqual(200)
    expect(waited).toBeLessThan(5_000)
    expect(yield* client.call("server", new Sleep({ ms: 400 }))).toBe(400)
    const many = yield* Effect.forEach([10, 5_000, 30, 6_000], (ms) => Effect.either(client.call("server", new Slow({ ms }))), {
      concurrency: "unbounded"
    })
    expect(many.map((e) => Either.isRight(e) ? e.right : e.left._tag)).toEqual([10, "TooSlow", 30, "TooSlow"])
    // Interruptions land once the handler fiber has run its finalizer.
    yield* Effect.sleep("50 millis")
    expect(server.interrupted()).toBe(3)
  })],
  ["RestartReconnects", Effect.gen(function*() {
    const net = yield* NetTag
    yield* net.startServer("server")
    const client = yield* net.client("client", ["server"])
    expect(yield* client.call("server", new Echo({ text: "one" }))).toBe("one")
    yield* net.killServer("server")
    const down = yield* Effect.flip(client.call("server", new Echo({ text: "two" })))
    expect(down._tag).toBe("TransportError")
    const again = yield* net.startServer("server")
    expect(yield* client.call("server", new Echo({ text: "three" }))).toBe("three")
    expect(again.handled()).toBe(1)
  })]
]

describe("Transport conformance: SimNetwork (seeded simulation)", () => {
  for (const [name, body] of conformance) {
    simTest(name, body.pipe(Effect.provide(simNet)))
  }
})

describe("Transport conformance: TCP (loopback)", () => {
  for (const [name, body] of conformance) {
    it.scopedLive(name, () => body.pipe(Effect.provide(tcpNet)), 30_000)
  }
})
