/**
 * The TCP `Transport`: real sockets, length-prefixed frames, one multiplexed connection per peer.
 *
 * Frame: `u32 length | u8 kind | u32 id | payload`, big-endian, where `length` counts kind, id and
 * payload; kind 0 = request, 1 = reply. Payloads are the same encoded messages as in simulation. A
 * connection carries many calls at once (matched by id); frames queued in one turn of the event loop
 * leave in one write (see `FrameWriter`). A peer is dialled on first use; a closed
 * connection fails its calls at once (`Closed`) and the next call dials again, so a restarted peer is
 * picked up without configuration. An oversized or malformed frame closes only that connection, with
 * a logged `FrameError`; the server keeps serving everyone else. A serving transport's calls to its
 * own name (`self`) skip the socket: the encoded request goes straight to its dispatcher, with the
 * same reply encoding and the same call timeout, as a member's (no authentication check).
 *
 * Security (both optional, see `Options.tls` and `Options.auth`): TLS on every connection, mutual
 * between members (node:tls); and authentication decided once per connection, before its first
 * request: a member (a peer of the cluster) may call everything, a client only the requests listed in
 * `auth.clientRequests`, and only with the token when one is configured. The dialling side proves
 * itself by its certificate (TLS) or by a hello frame (kind 2, the first frame it sends: its token and
 * cluster secret). A refused request gets a `TransportError("Unauthorized")` reply; its handler never
 * runs. A connection whose TLS handshake fails or whose certificate is not the CA's is closed before a
 * frame is read, with one logged line.
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
import { createPrivateKey, X509Certificate } from "node:crypto"
import * as net from "node:net"
import * as tls from "node:tls"
import { decodeHello, encodeHello, isMemberCertificate, sameSecret, subjectOf } from "./internal/auth.js"
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
  /** Every connection over TLS, this transport's and its peers'. */
  readonly tls?: TlsOptions
  /** Who may call what on this transport's port, and what its own calls present. */
  readonly auth?: AuthOptions
}

/** PEM material (contents, not paths). */
export interface TlsOptions {
  /**
   * The CA that signs the cluster's certificates. Servers dialled are verified against it (and their
   * certificate must name the host dialled); a connecting side that presents a certificate must have
   * one it signed, or is refused.
   */
  readonly ca: string | Uint8Array
  /**
   * This side's certificate and key: a listening transport needs them. A dialling one presents them
   * (mutual TLS); a member's certificate (see `internal/auth.ts`) makes the connection a member's.
   */
  readonly cert?: string | Uint8Array
  readonly key?: string | Uint8Array
}

export interface AuthOptions {
  /** The client token: sent by every connection this transport dials; required of client connections it accepts. */
  readonly token?: string
  /**
   * Without TLS, what makes a connection a member's: sent by every connection this transport dials, and
   * a connection that presents it may call everything. Default: the token (then whoever holds the
   * token may act as a member). Ignored with TLS, where members are known by their certificates.
   */
  readonly clusterSecret?: string
  /** The requests (by tag) a client connection may make; members may make any. Default: all. */
  readonly clientRequests?: ReadonlyArray<string>
}

/** The TLS material is unusable (unparsable, or a key that does not match its certificate). */
export class TlsError extends Data.TaggedError("TlsError")<{ readonly detail: string }> {
  override get message() {
    return `TLS: ${this.detail}`
  }
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
  /**
   * Traffic per peer, for a metrics endpoint: calls this node made to each peer it dialled (by id), and
   * under `INBOUND` everything on connections peers dialled to it (whose ids it does not know).
   */
  readonly peerCounters: Effect.Effect<ReadonlyMap<NodeId, PeerCounters>>
  /** Adds or changes a peer's address (a member added to the cluster at run time); later calls dial it. */
  readonly setPeerAddress: (peer: NodeId, address: string) => void
}

/** One peer's traffic (`TcpTransport.peerCounters`). Frames in and out count requests and replies. */
export interface PeerCounters {
  readonly bytesSent: number
  readonly bytesReceived: number
  readonly framesSent: number
  readonly framesReceived: number
  readonly connectionFailures: number
}

/** The `peerCounters` key of the traffic on connections that peers opened to this node. */
export const INBOUND = "(inbound)"

type MutablePeerCounters = { -readonly [K in keyof PeerCounters]: number }

const HEADER = 9
const KIND_REQUEST = 0
const KIND_REPLY = 1
const KIND_HELLO = 2
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

// Frames up to this size are copied into the flush's one buffer; larger ones (snapshots) are written as they are.
const COALESCE_BYTES = 64 * 1024

/**
 * Writes frames; all frames queued in one turn of the event loop leave in one write. Each write is a
 * system call that wakes the receiver, so a batch is gathered until `setImmediate` (after every I/O
 * callback of this turn: replies finished by several callbacks go together), small frames copied into
 * one buffer and large ones (snapshots) written as they are.
 */
class FrameWriter {
  private parts: Array<Uint8Array> = []
  private bytes = 0
  private scheduled = false
  constructor(private readonly socket: net.Socket) {}

  /** Bytes queued here and not yet handed to the socket. */
  get queued(): number {
    return this.bytes
  }

  write(kind: number, id: number, payload: Uint8Array) {
    const header = Buffer.allocUnsafe(HEADER)
    header.writeUInt32BE(payload.length + 5, 0)
    header[4] = kind
    header.writeUInt32BE(id, 5)
    this.parts.push(header, payload)
    this.bytes += HEADER + payload.length
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.flush)
    }
  }

  private readonly flush = () => {
    this.scheduled = false
    const parts = this.parts
    this.parts = []
    this.bytes = 0
    if (this.socket.destroyed) return
    this.socket.cork()
    let run: Array<Uint8Array> = []
    let runBytes = 0
    const end = () => {
      if (run.length > 0) this.socket.write(Buffer.concat(run, runBytes))
      run = []
      runBytes = 0
    }
    for (const p of parts) {
      if (p.length > COALESCE_BYTES) {
        end()
        this.socket.write(p)
      } else {
        run.push(p)
        runBytes += p.length
      }
    }
    end()
    this.socket.uncork()
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

/** Fails (with Timeout) and removes the calls of `pending` whose deadline has passed. */
const expirePending = (pending: Map<number, Pending>, peer: NodeId, now: number) => {
  for (const [id, call] of pending) {
    if (call.deadline <= now) {
      pending.delete(id)
      call.resume(Effect.fail(new TransportError({
        reason: "Timeout",
        peer,
        detail: `no reply within ${Duration.format(call.timeout)}`
      })))
    }
  }
}

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
    security: { readonly context: tls.SecureContext | undefined; readonly hello: Uint8Array | undefined },
    private readonly onClosed: (conn: PeerConnection) => void
  ) {
    this.socket = security.context === undefined
      ? net.connect({ host, port, noDelay: true })
      : tls.connect({ host, port, secureContext: security.context, ...(net.isIP(host) ? {} : { servername: host }) })
    this.socket.setNoDelay(true)
    this.writer = new FrameWriter(this.socket)
    // The first frame on the connection (TLS queues it until the handshake is done).
    if (security.hello !== undefined) this.writer.write(KIND_HELLO, 0, security.hello)
    const reader = new FrameReader(maxFrameBytes)
    this.socket.on(security.context === undefined ? "connect" : "secureConnect", () => {
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
      // TLS failures say more in their message (which certificate, why) than in their code.
      const detail = security.context !== undefined && !this.connected && err.syscall === undefined
        ? `TLS: ${opensslReason(err.message)}`
        : err.code ?? err.message
      this.close(this.connected ? "Closed" : "Unreachable", detail)
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

  /** Whether a call on this connection waits for its reply. */
  get waiting(): boolean {
    return this.pending.size > 0
  }

  /** Fails the calls whose deadline has passed. */
  expire(now: number) {
    expirePending(this.pending, this.peer, now)
  }

  get needsDrain(): boolean {
    return this.socket.writableLength + this.writer.queued > HIGH_WATER
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

/**
 * Calls from a transport to itself: dispatched in-process, answered through the same `Pending`
 * bookkeeping as a connection's calls (so the sweeper times them out alike).
 */
class LocalCalls {
  private readonly pending = new Map<number, Pending>()
  private nextId = 1

  constructor(private readonly self: NodeId, private readonly dispatcher: Dispatcher) {}

  /** Starts one call; its id, or undefined when it was answered at once. */
  call(payload: Uint8Array, call: Pending): number | undefined {
    const started = this.dispatcher.dispatch(payload)
    if (started instanceof Uint8Array) {
      call.resume(Effect.succeed(started))
      return undefined
    }
    const id = this.nextId++
    this.pending.set(id, call)
    started.observe((exit) => {
      if (!this.pending.delete(id)) return
      // A handler interrupted without replying (its service stopping) would send nothing over TCP,
      // and the caller would wait for its timeout; here it learns at once.
      call.resume(
        exit._tag === "Success"
          ? Effect.succeed(exit.value)
          : Effect.fail(new TransportError({ reason: "Closed", peer: this.self, detail: "the local handler stopped without a reply" }))
      )
    })
    return id
  }

  cancel(id: number) {
    this.pending.delete(id)
  }

  get waiting(): boolean {
    return this.pending.size > 0
  }

  close() {
    const error = Effect.fail(new TransportError({ reason: "Shutdown", peer: this.self, detail: "transport shut down" }))
    for (const call of this.pending.values()) call.resume(error)
    this.pending.clear()
  }

  expire(now: number) {
    expirePending(this.pending, this.self, now)
  }
}

const parseAddress = (address: string): { host: string; port: number } | undefined => {
  const m = /^\[?([^\]]*)\]?:(\d{1,5})$/.exec(address)
  if (m === null) return undefined
  const port = Number(m[2])
  return port > 0 && port < 65536 ? { host: m[1]!, port } : undefined
}

/** Creates a TCP transport; listening (if asked) starts at once and stops when the scope closes. */
export const make = (options: Options): Effect.Effect<TcpTransport, ListenError | TlsError, Scope.Scope> =>
  Effect.gen(function*() {
    const runtime = yield* Effect.runtime<never>()
    const runLog = Runtime.runFork(runtime)
    const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME
    const defaultTimeout = Duration.decode(options.callTimeout ?? Duration.seconds(10))
    const clock = yield* Effect.clock
    const dispatcher = new Dispatcher()
    const counters = zeroCounters()
    const perPeer = new Map<NodeId, MutablePeerCounters>()
    const peerCounter = (peer: NodeId): MutablePeerCounters => {
      let c = perPeer.get(peer)
      if (c === undefined) {
        c = { bytesSent: 0, bytesReceived: 0, framesSent: 0, framesReceived: 0, connectionFailures: 0 }
        perPeer.set(peer, c)
      }
      return c
    }
    const inbound = peerCounter(INBOUND)
    const connections = new Map<string, PeerConnection>()
    const serverSockets = new Set<net.Socket>()
    let shutdown = false
    const security = yield* securityOf(options)

    const acceptConnection = (socket: net.Socket) => {
      serverSockets.add(socket)
      socket.setNoDelay(true)
      const remote = `${socket.remoteAddress}:${socket.remotePort}`
      const access = security.admit(socket)
      if (typeof access === "string") {
        runLog(Effect.logWarning(`refusing connection from ${remote}: ${access}`))
        socket.destroy()
        return
      }
      const reader = new FrameReader(maxFrameBytes)
      const writer = new FrameWriter(socket)
      let open = true
      let frames = 0
      const reply = (id: number, bytes: Uint8Array) => {
        if (!open) return
        counters.bytesSent += bytes.length + HEADER
        inbound.bytesSent += bytes.length + HEADER
        inbound.framesSent++
        writer.write(KIND_REPLY, id, bytes)
      }
      socket.on("data", (chunk: Buffer) => {
        if (!open) return
        const bad = reader.push(chunk, (kind, id, payload) => {
          if (kind === KIND_HELLO && frames++ === 0) {
            const refused = security.hello(access, payload)
            if (refused !== undefined) runLog(Effect.logWarning(`connection from ${remote}: ${refused}`))
            return
          }
          if (kind !== KIND_REQUEST) {
            fault("Malformed", `unexpected frame kind ${kind}`)
            return
          }
          frames++
          counters.served++
          counters.bytesReceived += payload.length + HEADER
          inbound.bytesReceived += payload.length + HEADER
          inbound.framesReceived++
          const started = dispatcher.dispatch(payload, access.refuse)
          if (started instanceof Uint8Array) reply(id, started)
          else {
            started.observe((exit) => {
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
      const server = security.server === undefined
        ? net.createServer({ noDelay: true }, acceptConnection)
        : tls.createServer(security.server, acceptConnection)
      // A connection that is not TLS, or whose handshake fails, never reaches acceptConnection.
      server.on("tlsClientError", (err: Error, socket: tls.TLSSocket) =>
        runLog(Effect.logWarning(`refusing connection from ${socket.remoteAddress}:${socket.remotePort}: TLS handshake failed: ${handshakeReason(err)}`)))
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
        local.close()
      })
    )

    // Calls a serving transport makes to itself (a node's HTTP API forwarding to its own KV server, say)
    // go straight to its dispatcher: the same encoded request and reply, the same timeout, no socket.
    const local = new LocalCalls(options.self, dispatcher)

    // The sweeper sleeps only while some call waits for a reply: an idle transport wakes no one.
    const calling = yield* Effect.makeLatch(false)
    yield* Effect.forkScoped(Effect.forever(Effect.suspend(() => {
      let waiting = local.waiting
      for (const c of connections.values()) if (c.waiting) waiting = true
      if (!waiting) {
        calling.unsafeClose()
        return calling.await
      }
      return Effect.sleep(Duration.millis(SWEEP_MS)).pipe(Effect.zipRight(Effect.sync(() => {
        const now = clock.unsafeCurrentTimeMillis()
        local.expire(now)
        for (const c of connections.values()) c.expire(now)
      })))
    })))

    // Addresses learned at run time (setPeerAddress) win over `options.peers`, which is read at call time.
    const learned = new Map<NodeId, string>()
    const connectionTo = (peer: NodeId): PeerConnection | undefined => {
      const addr = learned.get(peer) ?? options.peers?.[peer] ?? peer
      let conn = connections.get(addr)
      if (conn !== undefined && !conn.closed) return conn
      const parsed = parseAddress(addr)
      if (parsed === undefined) return undefined
      conn = new PeerConnection(addr, parsed.host, parsed.port, peer, maxFrameBytes, security.dial, (c) => {
        counters.connectionFailures++
        peerCounter(peer).connectionFailures++
        if (connections.get(c.address) === c) connections.delete(c.address)
      })
      connections.set(addr, conn)
      return conn
    }

    /** A request that may not be sent: more than a frame holds. */
    const oversize = (to: NodeId, payload: Uint8Array) =>
      payload.length + 5 > maxFrameBytes
        ? Effect.fail(new TransportError({ reason: "Protocol", peer: to, detail: `request of ${payload.length} bytes exceeds the frame limit` }))
        : undefined

    const call = <Req extends AnyRequest>(
      to: NodeId,
      request: Req,
      callOptions?: CallOptions
    ): Effect.Effect<Success<Req>, Failure<Req> | TransportError> =>
      Effect.suspend(() => {
        if (shutdown) return Effect.fail(new TransportError({ reason: "Shutdown", peer: to, detail: "transport shut down" }))
        const timeout = callOptions?.timeout === undefined ? defaultTimeout : Duration.decode(callOptions.timeout)
        if (to === options.self && dispatcher.size > 0) {
          const payload = encodeRequest(request)
          const refused = oversize(to, payload)
          if (refused !== undefined) return refused
          counters.calls++
          counters.served++
          return Effect.async<Uint8Array, TransportError>((resume) => {
            const id = local.call(payload, { resume, deadline: clock.unsafeCurrentTimeMillis() + Duration.toMillis(timeout), timeout })
            if (id === undefined) return
            calling.unsafeOpen()
            return Effect.sync(() => local.cancel(id))
          }).pipe(
            Effect.tapError(() => Effect.sync(() => counters.callFailures++)),
            Effect.flatMap((bytes) => decodeReply(request, to, bytes))
          )
        }
        const conn = connectionTo(to)
        if (conn === undefined) {
          return Effect.fail(new TransportError({ reason: "Unreachable", peer: to, detail: `no address known for ${to}` }))
        }
        const payload = encodeRequest(request)
        const refused = oversize(to, payload)
        if (refused !== undefined) return refused
        const exchange = Effect.async<Uint8Array, TransportError>((resume) => {
          const deadline = clock.unsafeCurrentTimeMillis() + Duration.toMillis(timeout)
          const id = conn.send(payload, { resume, deadline, timeout })
          calling.unsafeOpen()
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
        const traffic = peerCounter(to)
        traffic.bytesSent += payload.length + HEADER
        traffic.framesSent++
        return waitDrain.pipe(
          Effect.zipRight(exchange),
          Effect.tapError(() => Effect.sync(() => counters.callFailures++)),
          Effect.flatMap((bytes) => {
            counters.bytesReceived += bytes.length + HEADER
            traffic.bytesReceived += bytes.length + HEADER
            traffic.framesReceived++
            return decodeReply(request, to, bytes)
          })
        )
      })

    const transport: TcpTransport = {
      self: options.self,
      address,
      setPeerAddress: (peer, addr) => void learned.set(peer, addr),
      call,
      serve: (protocol, handlers, serveOptions) =>
        Effect.flatMap(FiberSet.makeRuntime<any, any, never>(), (fork) => dispatcher.register(protocol, handlers, fork as any, serveOptions)),
      counters: Effect.sync(() => ({ ...counters })),
      peerCounters: Effect.sync(() => new Map([...perPeer].map(([peer, c]) => [peer, { ...c }])))
    }
    return transport
  })

/** The TCP `Transport` as a Layer. */
export const layer = (options: Options): Layer.Layer<Transport, ListenError | TlsError> => Layer.scoped(Transport, make(options))

/** What one accepted connection may do; `hello` may raise it. */
interface Access {
  member: boolean
  /** Whether it presented the right token; whether it presented one at all. */
  token: boolean
  tokenGiven: boolean
  /** Why a request of this tag is refused on this connection (undefined: served). */
  readonly refuse: (tag: string) => string | undefined
}

/** The transport's security, resolved once: how to dial, how to listen, and what each connection may do. */
const securityOf = (options: Options) =>
  Effect.gen(function*() {
    const t = options.tls
    const auth = options.auth ?? {}
    const token = auth.token
    const secret = auth.clusterSecret ?? auth.token
    const clientRequests = auth.clientRequests === undefined ? undefined : new Set(auth.clientRequests)
    const context = t === undefined ? undefined : yield* secureContext(t)
    if (t !== undefined && options.listen !== undefined && (t.cert === undefined || t.key === undefined)) {
      return yield* new TlsError({ detail: "a listening transport needs its certificate and key" })
    }
    const server: tls.TlsOptions | undefined = t === undefined || options.listen === undefined ? undefined : {
      ca: pem(t.ca),
      cert: pem(t.cert!),
      key: pem(t.key!),
      // Asked of everyone, required of no one: a client without a certificate is a client; one whose
      // certificate is not the CA's is refused in `admit`, before a frame is read.
      requestCert: true,
      rejectUnauthorized: false,
      noDelay: true
    }
    const hello = token === undefined && secret === undefined ? undefined : encodeHello({ token, secret })
    // Nothing configured: every connection is a member's, as on a trusted network.
    const open = t === undefined && secret === undefined

    const makeAccess = (member: boolean): Access => {
      const access: Access = {
        member,
        token: false,
        tokenGiven: false,
        refuse: (tag) => {
          if (access.member) return undefined
          if (clientRequests !== undefined && !clientRequests.has(tag)) {
            return `${tag} is for cluster members only (${t === undefined ? "present the cluster secret" : "present a node certificate"})`
          }
          if (token !== undefined && !access.token) {
            return access.tokenGiven
              ? "wrong client token (--auth-token-file)"
              : "this server requires the client token (--auth-token-file), which this connection did not present"
          }
          return undefined
        }
      }
      return access
    }

    return {
      server,
      dial: { context, hello },
      /** The access of a new connection, or why it is refused. */
      admit: (socket: net.Socket): Access | string => {
        if (!(socket instanceof tls.TLSSocket)) return makeAccess(open)
        const cert = socket.getPeerCertificate()
        if (cert === null || Object.keys(cert).length === 0) return makeAccess(false)
        if (!socket.authorized) {
          return `certificate ${subjectOf(cert)} is not trusted (${String(socket.authorizationError)}): not signed by this cluster's CA?`
        }
        return makeAccess(isMemberCertificate(cert))
      },
      /** Applies a connection's hello; why it did not make it a member, if it presented a wrong secret. */
      hello: (access: Access, payload: Uint8Array): string | undefined => {
        const h = decodeHello(payload)
        if (h === undefined) return "malformed hello frame ignored"
        access.tokenGiven = h.token !== null
        if (token !== undefined && sameSecret(h.token, token)) access.token = true
        if (t === undefined && secret !== undefined && h.secret !== null) {
          if (sameSecret(h.secret, secret)) access.member = true
          else if (clientRequests !== undefined) return "wrong cluster secret: served as a client, not as a member"
        }
        return undefined
      }
    }
  })

/** OpenSSL's reason without its location ("...:SSL routines:ssl3_get_record:wrong version number:../deps/..."). */
const opensslReason = (message: string): string => /routines:[^:]*:([^:]+)/.exec(message)?.[1] ?? message.trim()

const handshakeReason = (err: Error): string => {
  const reason = opensslReason(err.message)
  if (/wrong version number|http request|unknown protocol/.test(reason)) return `${reason} (a client that does not speak TLS?)`
  if (/socket hang up|ECONNRESET/.test(reason)) return "the peer hung up during the handshake (it does not trust our certificate: another CA?)"
  return reason
}

const pem = (x: string | Uint8Array): string | Buffer => (typeof x === "string" ? x : Buffer.from(x))

/**
 * The TLS material checked piece by piece, so that a bad file gets a plain reason (createSecureContext
 * would silently ignore a CA it cannot parse, and then trust no one).
 */
const secureContext = (t: TlsOptions): Effect.Effect<tls.SecureContext, TlsError> => {
  const check = (what: string, f: () => unknown) =>
    Effect.try({ try: f, catch: (e) => new TlsError({ detail: `${what} (${(e as Error).message})` }) })
  return Effect.gen(function*() {
    yield* check("the CA is not a PEM certificate", () => new X509Certificate(pem(t.ca)))
    if (t.cert !== undefined) yield* check("the certificate is not a PEM certificate", () => new X509Certificate(pem(t.cert!)))
    if (t.key !== undefined) yield* check("the key is not a PEM private key", () => createPrivateKey(pem(t.key!)))
    return yield* Effect.try({
      try: () => tls.createSecureContext({ ca: pem(t.ca), ...(t.cert === undefined ? {} : { cert: pem(t.cert) }), ...(t.key === undefined ? {} : { key: pem(t.key) }) }),
      catch: (e) => {
        const m = (e as Error).message
        return new TlsError({ detail: /key values mismatch/i.test(m) ? "the key does not match the certificate" : m })
      }
    })
  })
}
