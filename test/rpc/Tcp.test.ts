/**
 * TCP Layer specifics: binding, bad input on the wire, size limits, timeouts. Real loopback sockets;
 * every socket a test opens is closed by the test's scope.
 */
import { it } from "@effect/vitest"
import { Effect, Either, Exit, Fiber, Scope } from "effect"
import * as net from "node:net"
import { describe, expect } from "vitest"
import * as Tcp from "../../src/rpc/Tcp.js"
import { Divide, Echo, Length, Sleep, TestProtocol, testHandlers } from "./protocol.js"

const server = (options: Partial<Tcp.Options> = {}) =>
  Effect.gen(function*() {
    const t = yield* Tcp.make({ self: "server", listen: {}, ...options })
    yield* t.serve(TestProtocol, testHandlers())
    return t
  })

const clientOf = (port: number, options: Partial<Tcp.Options> = {}) =>
  Tcp.make({ self: "client", peers: { server: `127.0.0.1:${port}` }, ...options })

/** A raw socket for sending bytes the Transport would never send; closed with the scope. */
const rawSocket = (port: number) =>
  Effect.acquireRelease(
    Effect.async<net.Socket, Error>((resume) => {
      const s = net.connect({ host: "127.0.0.1", port }, () => resume(Effect.succeed(s)))
      s.once("error", (e) => resume(Effect.fail(e)))
    }),
    (s) => Effect.sync(() => s.destroy())
  )

/** Resolves when the server closes `socket` (bounded by the test timeout). */
const closedByPeer = (socket: net.Socket) =>
  Effect.async<void>((resume) => {
    if (socket.destroyed || socket.readableEnded) return resume(Effect.void)
    socket.once("close", () => resume(Effect.void))
    socket.resume()
  })

const frame = (length: number, kind: number, id: number, payload: Uint8Array = new Uint8Array()) => {
  const b = Buffer.alloc(9 + payload.length)
  b.writeUInt32BE(length, 0)
  b[4] = kind
  b.writeUInt32BE(id, 5)
  Buffer.from(payload).copy(b, 9)
  return b
}

describe("Tcp", () => {
  it.scopedLive("binds 127.0.0.1 by default, port 0 picks a free port", () =>
    Effect.gen(function*() {
      const s = yield* server()
      expect(s.address?.host).toBe("127.0.0.1")
      expect(s.address?.port).toBeGreaterThan(0)
    }))

  it.scopedLive("a port in use is a ListenError with a clear message", () =>
    Effect.gen(function*() {
      const s = yield* server()
      const err = yield* Effect.flip(Tcp.make({ self: "other", listen: { port: s.address!.port } }))
      expect(err._tag).toBe("ListenError")
      expect(err.message).toBe(`cannot listen on 127.0.0.1:${s.address!.port}: address already in use`)
    }))

  it.scopedLive("an unreachable peer fails fast with Unreachable; an unknown peer name too", () =>
    Effect.gen(function*() {
      // Find a port nobody listens on: bind, note it, close.
      const port = yield* Effect.scoped(Effect.map(server(), (s) => s.address!.port))
      const c = yield* clientOf(port)
      const err = yield* Effect.flip(c.call("server", new Echo({ text: "x" })))
      expect(err).toMatchObject({ _tag: "TransportError", reason: "Unreachable" })
      const unknown = yield* Effect.flip(c.call("nobody", new Echo({ text: "x" })))
      expect(unknown).toMatchObject({ reason: "Unreachable" })
      expect(unknown.message).toContain("no address known for nobody")
    }))

  it.scopedLive("bad frames close only their own connection; the server keeps serving", () =>
    Effect.gen(function*() {
      const s = yield* server({ maxFrameBytes: 1024 * 1024 })
      const port = s.address!.port
      const good = yield* clientOf(port)
      expect(yield* good.call("server", new Echo({ text: "before" }))).toBe("before")

      const cases: ReadonlyArray<readonly [string, Buffer]> = [
        ["a 2 GB length prefix", frame(2 ** 31, 0, 1)],
        ["a length below the header", frame(2, 0, 1)],
        ["an unknown frame kind", frame(5, 9, 1)],
        ["random bytes", Buffer.from([0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0xff, 0xff, 0x01])]
      ]
      for (const [, bytes] of cases) {
        const raw = yield* rawSocket(port)
        raw.write(bytes)
        yield* closedByPeer(raw)
        expect(raw.destroyed || raw.readableEnded).toBe(true)
      }
      // A truncated frame followed by a hang-up must not disturb the server either.
      const truncated = yield* rawSocket(port)
      truncated.end(frame(100, 0, 1).subarray(0, 20))
      yield* closedByPeer(truncated)

      expect(yield* good.call("server", new Echo({ text: "after" }))).toBe("after")
      const fresh = yield* clientOf(port)
      expect(yield* fresh.call("server", new Length({ text: "abc" }))).toBe(3)
    }))

  it.scopedLive("a well-framed but undecodable request gets a Protocol error reply; the connection stays open", () =>
    Effect.gen(function*() {
      const s = yield* server()
      const raw = yield* rawSocket(s.address!.port)
      const reply = yield* Effect.async<Buffer>((resume) => {
        raw.once("data", (d: Buffer) => resume(Effect.succeed(d)))
        raw.write(frame(5 + 3, 0, 77, new Uint8Array([0xc1, 0xc1, 0xc1])))
      })
      expect(reply[4]).toBe(1) // a reply frame
      expect(reply.readUInt32BE(5)).toBe(77) // to our id
      expect(raw.destroyed).toBe(false)
    }))

  it.scopedLive("large messages round-trip; a request over the frame limit fails before sending", () =>
    Effect.gen(function*() {
      const s = yield* server()
      const c = yield* clientOf(s.address!.port, { maxFrameBytes: 4 * 1024 * 1024 })
      const big = "b".repeat(3 * 1024 * 1024)
      expect(yield* c.call("server", new Length({ text: big }))).toBe(big.length)
      const err = yield* Effect.flip(c.call("server", new Length({ text: big + big })))
      expect(err).toMatchObject({ reason: "Protocol" })
      expect(yield* c.call("server", new Echo({ text: "ok" }))).toBe("ok")
    }))

  it.scopedLive("a reply later than the call timeout is a Timeout; the connection stays usable", () =>
    Effect.gen(function*() {
      const s = yield* server()
      const c = yield* clientOf(s.address!.port)
      const slow = yield* Effect.either(c.call("server", new Sleep({ ms: 2_000 }), { timeout: "50 millis" }))
      expect(Either.isLeft(slow) && slow.left).toMatchObject({ reason: "Timeout" })
      expect(yield* c.call("server", new Echo({ text: "next" }))).toBe("next")
    }))

  it.scopedLive("a serving transport's calls to itself skip the socket: same replies, typed failures, timeouts, counters", () =>
    Effect.gen(function*() {
      const s = yield* server({ peers: { server: "127.0.0.1:1" } }) // a socket to that address would fail
      expect(yield* s.call("server", new Echo({ text: "me" }))).toBe("me")
      expect(yield* Effect.flip(s.call("server", new Divide({ a: 7, b: 0 })))).toMatchObject({ _tag: "DivideByZero", dividend: 7 })
      const slow = yield* Effect.flip(s.call("server", new Sleep({ ms: 2_000 }), { timeout: "50 millis" }))
      expect(slow).toMatchObject({ _tag: "TransportError", reason: "Timeout", peer: "server" })
      const replies = yield* Effect.forEach(Array.from({ length: 32 }, (_, i) => i), (i) =>
        s.call("server", new Sleep({ ms: i % 5 })), { concurrency: "unbounded" })
      expect(replies).toEqual(Array.from({ length: 32 }, (_, i) => i % 5))
      const counters = yield* s.counters
      expect(counters).toMatchObject({ calls: 35, served: 35, callFailures: 1, connectionFailures: 0, bytesSent: 0 })
    }))

  it.scopedLive("a call to itself waiting when the transport shuts down fails at once: its handler stopped without a reply", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const s = yield* Scope.extend(server(), scope)
      const waiting = yield* Effect.fork(Effect.flip(s.call("server", new Sleep({ ms: 5_000 }))))
      yield* Effect.sleep("20 millis")
      yield* Scope.close(scope, Exit.void)
      expect(yield* Fiber.join(waiting)).toMatchObject({ _tag: "TransportError", reason: "Closed", detail: "the local handler stopped without a reply" })
    }))

  it.scopedLive("64 calls in flight on one connection are matched to their replies", () =>
    Effect.gen(function*() {
      const s = yield* server()
      const c = yield* clientOf(s.address!.port)
      const replies = yield* Effect.forEach(
        Array.from({ length: 64 }, (_, i) => i),
        (i) => c.call("server", new Sleep({ ms: (i * 7) % 20 })),
        { concurrency: "unbounded" }
      )
      expect(replies).toEqual(Array.from({ length: 64 }, (_, i) => (i * 7) % 20))
    }))
})
