/**
 * The TCP `Transport`: real sockets, length-prefixed frames, one multiplexed connection per peer.
 *
 * Frame: `u32 length | u8 kind | u32 id | payload`, big-endian, where `length` counts kind, id and
 * payload; kind 0 = request, 1 = reply. Payloads are the same encoded messages as in simulation. A
 * connection carries many calls at once (matched by id); frames written in one tick leave in one
 * `writev` (the socket is corked until the next tick). A peer is dialled on first use; a closed
 * connection fails its calls at once (`Closed`) and the next call dials again, so a restarted peer is
 * picked up without configuration. An oversized or malformed frame closes only that connection, with
 * a logged `FrameError`; the server keeps serving everyone else.
 *
 * Why `node:net` and not `@effect/platform` sockets: the platform `Socket` runs each connection as a
 * pull stream with one fiber and queue hop per chunk, and its writer is an Effect per write; on the
 * RPC path (many small frames, multiplexed) that costs more than the RPC itself. `npm run bench --
 * transport` measures all three (raw node:net, this Layer, platform sockets) in one run; the README
 * has the numbers. Here sockets are driven by their callbacks and only the call boundary and the
 * handlers are Effects.
 * @since 0.1.0
 */
import { Data, Duration, Effect, FiberSet, Layer, Runtime, type Scope } from "effect"
import * as net from "node:net"
import { Dispatcher, decodeReply, encodeRequest } from "./internal/wire.js"
import {
  type AnyRequest,
  type CallOptions,
  type Failure,
  type NodeId,
  type Success,
  Transport,
  TransportError,
  type TransportShape,
  zeroCounters
} from "./Transport.js"

/** Options of a TCP transport. */
export interface Options {
  /** This node's name. */
  readonly self: NodeId
  /** Listen for peers here. Omit for a client-only transport. Host defaults to 127.0.0.1, port to 0 (any). */
  readonly listen?: { readonly host?: string; readonly port?: number }
  /** Peer addresses (`host:port`) by node id. A `to` that is not listed but has the form host:port is dialled as is. */
  readonly peers?: Readonly<Record<NodeId, string>>
  /** Largest frame accepted or sent, in bytes. Default 64 MiB. */
  readonly maxFrameBytes?: number
  /** Timeout of a call that gives none. Default 10 s. */
  readonly callTimeout?: Duration.DurationInput
}

/** A frame that cannot be accepted: its connection is closed. */
export class FrameError extends Data.TaggedError("FrameError")<{
  readonly reason: "TooLarge" | "Malformed"
  readonly remote: string
  readonly detail: string
}> {
  override get message() {
    return `closing connection from ${this.remote}: ${this.reason === "TooLarge" ? "frame too large" : "malformed frame"}: ${this.detail}`
  }
}

/** The transport could not listen on the requested address. */
export class ListenError extends Data.TaggedError("ListenError")<{
  readonly host: string
  readonly port: number
  readonly detail: string
}> {
  override get message() {
    return `cannot listen on ${this.host}:${this.port}: ${this.detail}`
  }
}

/** A TCP transport: a `Transport` plus the address it listens on. */
export interface TcpTransport extends TransportShape {
  /** The bound address (with the real port when 0 was asked), if listening. */
  readonly address: { readonly host: string; readonly port: number } | undefined
  /** Adds or changes a peer's address (a member added to the cluster at run time); later calls dial it. */
  readonly setPeerAddress: (peer: NodeId, address: string) => void
}

const HEADER = 9
const KIND_REQUEST = 0
const KIND_REPLY = 1
const DEFAULT_MAX_FRAME = 64 * 1024 * 1024
// Above this many unsent bytes a caller waits for the socket to drain before queueing more.
const HIGH_WATER = 8 * 1024 * 1024

/** Splits a byte stream into frames. Chunks are joined only once a whole frame is present. */
class FrameReader {
  private chunks: Array<Buffer> = []
  private total = 0

  constructor(private readonly maxFrameBytes: number) {}

  /** Feeds a chunk; calls `onFrame` per complete frame. Returns an error string if the stream is bad. */
  push(chunk: Buffer, onFrame: (kind: number, id: number, payload: Uint8Array) => void): FrameError["reason"] | undefined {
    this.chunks.push(chunk)
    this.total += chunk.length
    while (this.total >= 4) {
      if (this.chunks[0]!.length < 4) this.joinHead()
      const length = this.chunks[0]!.readUInt32BE(0)
      if (length > this.maxFrameBytes) return "TooLarge"
      if (length < 5) return "Malformed"
      if (this.total < 4 + length) break
      const frame = this.take(4 + length)
      const kind = frame[4]!
      const id = frame.readUInt32BE(5)
      onFrame(kind, id, frame.subarray(HEADER))
    }
    return undefined
  }

  // Makes the first chunk hold the whole 4-byte length prefix.
  private joinHead() {
    let n = 0
    let k = 0
    while (n < 4) n += this.chunks[k++]!.length
    this.chunks.splice(0, k, Buffer.concat(this.chunks.slice(0, k)))
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!
    if (first.length >= n) {
      // Copy: decoded byte fields are views into the frame, which must not pin the whole chunk.
      const frame = Buffer.from(first.subarray(0, n))
      if (first.length === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
      this.total -= n
      return frame
    }
    const parts: Array<Buffer> = []
    let need = n
    while (need > 0) {
      const c = this.chunks[0]!
      if (c.length <= need) {
        parts.push(c)
        this.chunks.shift()
        need -= c.length
      } else {
        parts.push(c.subarray(0, need))
        this.chunks[0] = c.subarray(need)
        need = 0
      }
    }
    this.total -= n
    return Buffer.concat(parts, n)
  }
}

/** Writes frames; all frames of one tick leave together. */
class FrameWriter {
  private corked = false
  constructor(private readonly socket: net.Socket) {}

  write(kind: number, id: number, payload: Uint8Array) {
    const header = Buffer.allocUnsafe(HEADER)
    header.writeUInt32BE(payload.length + 5, 0)
    header[4] = kind
    header.writeUInt32BE(id, 5)
    if (!this.corked) {
      this.corked = true
      this.socket.cork()
      process.nextTick(() => {
        this.corked = false
        this.socket.uncork()
      })
    }
    this.socket.write(header)
    this.socket.write(payload)
  }
}

type Resume = (result: Effect.Effect<Uint8Array, TransportError>) => void

interface Pending {
  readonly resume: Resume
  /** Clock time (ms) after which the call fails with Timeout. */
  readonly deadline: number
  readonly timeout: Duration.Duration
}

// Deadlines are enforced by one sweeper fiber per transport, every SWEEP_MS: a call's timeout fires at
// most SWEEP_MS late. A per-call `Effect.timeout` races two forked fibers and a timer, which measured
// ~26 µs per call, more than the rest of a loopback round trip.
const SWEEP_MS = 10

/** A client connection to one peer address. */
class PeerConnection {
  readonly socket: net.Socket
  private readonly writer: FrameWriter
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private connected = false
  closed = false

  constructor(
    readonly address: string,
    host: string,
    port: number,
    private readonly peer: NodeId,
    maxFrameBytes: number,
    private readonly onClosed: (conn: PeerConnection) => void
  ) {
    this.socket = net.connect({ host, port, noDelay: true })
    this.writer = new FrameWriter(this.socket)
    const reader = new FrameReader(maxFrameBytes)
    this.socket.on("connect", () => {
      this.connected = true
      this.socket.setKeepAlive(true, 10_000)
    })
    this.socket.on("data", (chunk: Buffer) => {
      const bad = reader.push(chunk, (kind, id, payload) => {
        if (kind !== KIND_REPLY) return
        const call = this.pending.get(id)
        if (call !== undefined) {
          this.pending.delete(id)
          call.resume(Effect.succeed(payload))
        }
      })
      if (bad !== undefined) this.close("Closed", `peer sent a bad frame (${bad})`)
    })
    this.socket.on("error", (err: NodeJS.ErrnoException) => {
      this.close(this.connected ? "Closed" : "Unreachable", err.code ?? err.message)
    })
    this.socket.on("close", () => this.close(this.connected ? "Closed" : "Unreachable", "connection closed"))
  }

  send(payload: Uint8Array, call: Pending): number {
    const id = this.nextId
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1
    this.pending.set(id, call)
    this.writer.write(KIND_REQUEST, id, payload)
    return id
  }

  cancel(id: number) {
    this.pending.delete(id)
  }

  /** Fails the calls whose deadline has passed. */
  expire(now: number) {
    for (const [id, call] of this.pending) {
      if (call.deadline <= now) {
        this.pending.delete(id)
        call.resume(Effect.fail(new TransportError({
          reason: "Timeout",
          peer: this.peer,
          detail: `no reply within ${Duration.format(call.timeout)}`
        })))
      }
    }
  }

  get needsDrain(): boolean {
    return this.socket.writableLength > HIGH_WATER
  }

  close(reason: TransportError["reason"], detail: string) {
    if (this.closed) return
    this.closed = true
    this.socket.destroy()
    this.onClosed(this)
    const error = Effect.fail(new TransportError({ reason, peer: this.peer, detail: `${this.address}: ${detail}` }))
    for (const call of this.pending.values()) call.resume(error)
    this.pending.clear()
  }
}

const parseAddress = (address: string): { host: string; port: number } | undefined => {
  const m = /^\[?([^\]]*)\]?:(\d{1,5})$/.exec(address)
  if (m === null) return undefined
  const port = Number(m[2])
  return port > 0 && port < 65536 ? { host: m[1]!, port } : undefined
}

/** Creates a TCP transport; listening (if asked) starts at once and stops when the scope closes. */
export const make = (options: Options): Effect.Effect<TcpTransport, ListenError, Scope.Scope> =>
  Effect.gen(function*() {
    const runtime = yield* Effect.runtime<never>()
    const runLog = Runtime.runFork(runtime)
    const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME
    const defaultTimeout = Duration.decode(options.callTimeout ?? Duration.seconds(10))
    const clock = yield* Effect.clock
    const dispatcher = new Dispatcher()
    const counters = zeroCounters()
    const connections = new Map<string, PeerConnection>()
    const serverSockets = new Set<net.Socket>()
    let shutdown = false

    const acceptConnection = (socket: net.Socket) => {
      serverSockets.add(socket)
      socket.setNoDelay(true)
      const remote = `${socket.remoteAddress}:${socket.remotePort}`
      const reader = new FrameReader(maxFrameBytes)
      const writer = new FrameWriter(socket)
      let open = true
      const reply = (id: number, bytes: Uint8Array) => {
        if (!open) return
        counters.bytesSent += bytes.length + HEADER
        writer.write(KIND_REPLY, id, bytes)
      }
      socket.on("data", (chunk: Buffer) => {
        if (!open) return
        const bad = reader.push(chunk, (kind, id, payload) => {
          if (kind !== KIND_REQUEST) {
            fault("Malformed", `unexpected frame kind ${kind}`)
            return
          }
          counters.served++
          counters.bytesReceived += payload.length + HEADER
          const started = dispatcher.dispatch(payload)
          if (started instanceof Uint8Array) reply(id, started)
          else {
            started.addObserver((exit) => {
              if (exit._tag === "Success") reply(id, exit.value)
            })
          }
        })
        if (bad !== undefined) fault(bad, bad === "TooLarge" ? `length prefix above ${maxFrameBytes} bytes` : "length prefix below 5")
      })
      const fault = (reason: FrameError["reason"], detail: string) => {
        if (!open) return
        open = false
        runLog(Effect.logWarning(new FrameError({ reason, remote, detail }).message))
        socket.destroy()
      }
      socket.on("error", () => {
        open = false
      })
      socket.on("close", () => {
        open = false
        serverSockets.delete(socket)
      })
    }

    let address: TcpTransport["address"] = undefined
    if (options.listen !== undefined) {
      const host = options.listen.host ?? "127.0.0.1"
      const port = options.listen.port ?? 0
      const server = net.createServer({ noDelay: true }, acceptConnection)
      address = yield* Effect.async<{ host: string; port: number }, ListenError>((resume) => {
        const onError = (err: NodeJS.ErrnoException) =>
          resume(Effect.fail(new ListenError({ host, port, detail: err.code === "EADDRINUSE" ? "address already in use" : err.message })))
        server.once("error", onError)
        server.listen(port, host, () => {
          server.off("error", onError)
          const bound = server.address() as net.AddressInfo
          resume(Effect.succeed({ host: bound.address, port: bound.port }))
        })
      })
      server.on("error", (err) => runLog(Effect.logError(`tcp server on ${host}:${address?.port}: ${err.message}`)))
      yield* Effect.addFinalizer(() =>
        Effect.async<void>((resume) => {
          for (const s of serverSockets) s.destroy()
          server.close(() => resume(Effect.void))
        })
      )
    }
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        shutdown = true
        for (const c of connections.values()) c.close("Shutdown", "transport shut down")
      })
    )

    yield* Effect.forkScoped(Effect.forever(Effect.sleep(Duration.millis(SWEEP_MS)).pipe(
      Effect.zipRight(Effect.sync(() => {
        const now = clock.unsafeCurrentTimeMillis()
        for (const c of connections.values()) c.expire(now)
      }))
    )))

    // Addresses learned at run time (setPeerAddress) win over `options.peers`, which is read at call time.
    const learned = new Map<NodeId, string>()
    const connectionTo = (peer: NodeId): PeerConnection | undefined => {
      const addr = learned.get(peer) ?? options.peers?.[peer] ?? peer
      let conn = connections.get(addr)
      if (conn !== undefined && !conn.closed) return conn
      const parsed = parseAddress(addr)
      if (parsed === undefined) return undefined
      conn = new PeerConnection(addr, parsed.host, parsed.port, peer, maxFrameBytes, (c) => {
        counters.connectionFailures++
        if (connections.get(c.address) === c) connections.delete(c.address)
      })
      connections.set(addr, conn)
      return conn
    }

    const call = <Req extends AnyRequest>(
      to: NodeId,
      request: Req,
      callOptions?: CallOptions
    ): Effect.Effect<Success<Req>, Failure<Req> | TransportError> =>
      Effect.suspend(() => {
        if (shutdown) return Effect.fail(new TransportError({ reason: "Shutdown", peer: to, detail: "transport shut down" }))
        const conn = connectionTo(to)
        if (conn === undefined) {
          return Effect.fail(new TransportError({ reason: "Unreachable", peer: to, detail: `no address known for ${to}` }))
        }
        const payload = encodeRequest(request)
        if (payload.length + 5 > maxFrameBytes) {
          return Effect.fail(
            new TransportError({ reason: "Protocol", peer: to, detail: `request of ${payload.length} bytes exceeds the frame limit` })
          )
        }
        const timeout = callOptions?.timeout === undefined ? defaultTimeout : Duration.decode(callOptions.timeout)
        const exchange = Effect.async<Uint8Array, TransportError>((resume) => {
          const deadline = clock.unsafeCurrentTimeMillis() + Duration.toMillis(timeout)
          const id = conn.send(payload, { resume, deadline, timeout })
          return Effect.sync(() => conn.cancel(id))
        })
        const waitDrain = conn.needsDrain
          ? Effect.async<void>((resume) => {
            // Whichever comes first removes both listeners, so waits do not pile up on a long-lived socket.
            const off = () => {
              conn.socket.off("drain", done)
              conn.socket.off("close", done)
            }
            const done = () => {
              off()
              resume(Effect.void)
            }
            conn.socket.on("drain", done)
            conn.socket.on("close", done)
            return Effect.sync(off)
          })
          : Effect.void
        counters.calls++
        counters.bytesSent += payload.length + HEADER
        return waitDrain.pipe(
          Effect.zipRight(exchange),
          Effect.tapError(() => Effect.sync(() => counters.callFailures++)),
          Effect.flatMap((bytes) => {
            counters.bytesReceived += bytes.length + HEADER
            return decodeReply(request, to, bytes)
          })
        )
      })

    const transport: TcpTransport = {
      self: options.self,
      address,
      setPeerAddress: (peer, addr) => void learned.set(peer, addr),
      call,
      serve: (protocol, handlers) =>
        Effect.flatMap(FiberSet.makeRuntime<any, any, never>(), (fork) => dispatcher.register(protocol, handlers, fork as any)),
      counters: Effect.sync(() => ({ ...counters }))
    }
    return transport
  })

/** The TCP `Transport` as a Layer. */
export const layer = (options: Options): Layer.Layer<Transport, ListenError> => Layer.scoped(Transport, make(options))
