/**
 * `npm run bench -- transport`: loopback round trips per second, 1 call in flight and 64 in flight,
 * for three implementations measured in the same run:
 *   baseline  plain node:net with the same framing, callbacks only, no Effect, no Schema;
 *   concord   the Tcp Transport (Schema + msgpack encoding, Effect calls and handlers);
 *   platform  the same framing over @effect/platform-node sockets (Socket.run / Socket.writer).
 * Ratios are against the baseline. Payload: a 32-character string each way.
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import { Deferred, Effect, Schema } from "effect"
import * as net from "node:net"
import * as Tcp from "../src/rpc/Tcp.js"
import * as Transport from "../src/rpc/Transport.js"

class Echo extends Schema.TaggedRequest<Echo>()("Echo", {
  failure: Schema.Never,
  success: Schema.String,
  payload: { text: Schema.String }
}) {}
const EchoProtocol = Transport.protocol("Echo", Echo)
const TEXT = "0123456789abcdef0123456789abcdef"
const WARMUP_MS = 300
const MEASURE_MS = 2000

const frame = (id: number, payload: Uint8Array) => {
  const b = Buffer.allocUnsafe(9 + payload.length)
  b.writeUInt32BE(5 + payload.length, 0)
  b[4] = 0
  b.writeUInt32BE(id, 5)
  b.set(payload, 9)
  return b
}

/** Parses frames out of a byte stream (same format as the Tcp Layer). */
const frameParser = (onFrame: (id: number, payload: Uint8Array) => void) => {
  let buf = Buffer.alloc(0)
  return (chunk: Uint8Array) => {
    buf = buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([buf, chunk])
    while (buf.length >= 4) {
      const len = buf.readUInt32BE(0)
      if (buf.length < 4 + len) break
      onFrame(buf.readUInt32BE(5), buf.subarray(9, 4 + len))
      buf = buf.subarray(4 + len)
    }
  }
}

/** Runs `inFlight` loops of `call` for the measuring window; returns round trips per second. */
const measure = async (inFlight: number, call: () => Promise<unknown>) => {
  const loop = async (until: number) => {
    let n = 0
    while (performance.now() < until) {
      await call()
      n++
    }
    return n
  }
  await Promise.all(Array.from({ length: inFlight }, () => loop(performance.now() + WARMUP_MS)))
  const start = performance.now()
  const counts = await Promise.all(Array.from({ length: inFlight }, () => loop(start + MEASURE_MS)))
  return counts.reduce((a, b) => a + b, 0) / ((performance.now() - start) / 1000)
}

const baseline = async (inFlight: number) => {
  const server = net.createServer({ noDelay: true }, (socket) => {
    const parse = frameParser((id, payload) => socket.write(frame(id, payload)))
    socket.on("data", parse)
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  const port = (server.address() as net.AddressInfo).port
  const client = net.connect({ port, host: "127.0.0.1", noDelay: true })
  await new Promise<void>((r) => client.once("connect", r))
  const pending = new Map<number, () => void>()
  client.on("data", frameParser((id) => {
    pending.get(id)?.()
    pending.delete(id)
  }))
  let nextId = 1
  const payload = Buffer.from(TEXT)
  const rate = await measure(inFlight, () =>
    new Promise<void>((resolve) => {
      const id = nextId++
      pending.set(id, resolve)
      client.write(frame(id, payload))
    }))
  client.destroy()
  await new Promise<void>((r) => server.close(() => r()))
  return rate
}

const concord = (inFlight: number) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const server = yield* Tcp.make({ self: "server", listen: {} })
    yield* server.serve<Echo, never>(EchoProtocol, { Echo: (r) => Effect.succeed(r.text) })
    const client = yield* Tcp.make({ self: "client", peers: { server: `127.0.0.1:${server.address!.port}` } })
    const request = new Echo({ text: TEXT })
    return yield* Effect.promise(() => measure(inFlight, () => Effect.runPromise(client.call("server", request))))
  })))

const platform = (inFlight: number) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const server = yield* NodeSocketServer.make({ port: 0, host: "127.0.0.1" })
    yield* Effect.forkScoped(server.run((socket) =>
      Effect.gen(function*() {
        const write = yield* socket.writer
        const pendingWrites: Array<Effect.Effect<void, unknown>> = []
        const parse = frameParser((id, payload) => void pendingWrites.push(write(frame(id, payload))))
        yield* socket.run((chunk) => {
          parse(chunk)
          const writes = pendingWrites.splice(0)
          return Effect.all(writes, { discard: true })
        })
      }).pipe(Effect.scoped, Effect.ignore)
    ))
    const address = server.address as { readonly port: number }
    const socket = yield* NodeSocket.makeNet({ host: "127.0.0.1", port: address.port, noDelay: true })
    const write = yield* socket.writer
    const pending = new Map<number, Deferred.Deferred<void>>()
    const parse = frameParser((id) => {
      const d = pending.get(id)
      pending.delete(id)
      if (d) Deferred.unsafeDone(d, Effect.void)
    })
    yield* Effect.forkScoped(socket.run((chunk) => parse(chunk)))
    let nextId = 1
    const payload = Buffer.from(TEXT)
    const call = Effect.gen(function*() {
      const id = nextId++
      const d = yield* Deferred.make<void>()
      pending.set(id, d)
      yield* write(frame(id, payload))
      yield* Deferred.await(d)
    })
    return yield* Effect.promise(() => measure(inFlight, () => Effect.runPromise(call)))
  })))

export const run = async () => {
  const rows: Array<[string, number, number, number]> = []
  for (const inFlight of [1, 64]) {
    const base = await baseline(inFlight)
    const ours = await concord(inFlight)
    const plat = await platform(inFlight)
    rows.push([`${inFlight} in flight`, base, ours, plat])
  }
  console.log("round trips per second on loopback (32-byte payload each way)")
  console.log("in flight      baseline(node:net)   concord Tcp (ratio)     platform sockets (ratio)")
  for (const [label, base, ours, plat] of rows) {
    console.log(
      `${label.padEnd(14)} ${base.toFixed(0).padStart(12)}   ${ours.toFixed(0).padStart(12)} (${(ours / base).toFixed(2)}x)` +
        `   ${plat.toFixed(0).padStart(12)} (${(plat / base).toFixed(2)}x)`
    )
  }
}
