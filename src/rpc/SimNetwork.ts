/**
 * An in-process network with the semantics of MIT 6.824's labrpc (SPEC-6824 §1.1), for deterministic
 * simulation.
 *
 * The model: *ends* are named, directed client endpoints; an end is connected to a *server name*
 * once, and enabled or disabled at will (a partition is a set of disabled ends). A *server* is the
 * object registered under a name; replacing or deleting it makes it dead, and a dead server's replies
 * are dropped even when its handler already ran (so a crashed node's late reply is never delivered).
 *
 * Faults: unreliable mode (0–26 ms delay, 10% of requests and 10% of replies lost), long delays (a
 * failed call returns after 0–7 s instead of 0–99 ms), long reordering (2/3 of replies delayed by
 * 200–2200 ms). Counters: total calls, total bytes (requests at send, replies at delivery, both as
 * encoded), and calls that reached each server.
 *
 * All randomness is Effect's `Random` and all waiting is `Effect.sleep`, so under `Simulation` a run
 * is a function of its seed. Messages are encoded and decoded on the way: nodes share no memory.
 * @since 0.1.0
 */
import { Context, Duration, Effect, Exit, FiberSet, Layer, Random, type Scope } from "effect"
import { withoutStack } from "../internal/errors.js"
import { Dispatcher, decodeReply, encodeRequest, type Started } from "./internal/wire.js"
import {
  type AnyRequest,
  type CallOptions,
  type Failure,
  type NodeId,
  type Success,
  Transport,
  TransportError,
  type MutableCounters,
  type TransportShape,
  zeroCounters
} from "./Transport.js"

/** A server object: identity matters (a replaced server is dead even if a new one has the same name). */
interface Server {
  readonly name: string
  readonly dispatcher: Dispatcher
  count: number
  /** The serving transport's counters. */
  readonly counters: MutableCounters
}

interface End {
  readonly name: string
  enabled: boolean
  server: string | undefined
}

/** Options of a simulated network. */
export interface Options {
  /** Record every network event, for `traceHash` (replay checks). Default false. */
  readonly trace?: boolean
}

/** The simulated network service: the test harness's control panel. */
export interface SimNetworkShape {
  /** Creates a disabled, unconnected end. A duplicate name is a defect. */
  readonly makeEnd: (end: string) => Effect.Effect<void>
  /** Binds `end` to the server name `server`. */
  readonly connect: (end: string, server: string) => Effect.Effect<void>
  /** Switches `end` on or off. */
  readonly enable: (end: string, enabled: boolean) => Effect.Effect<void>
  /** Marks the server registered under `server` dead and empties the slot. */
  readonly deleteServer: (server: string) => Effect.Effect<void>
  /** Unreliable mode: 0–26 ms delay, 10% of requests and 10% of replies dropped. */
  readonly setReliable: (reliable: boolean) => Effect.Effect<void>
  /** Long delays: a call on a disabled end or to a dead server fails after 0–7 s instead of 0–99 ms. */
  readonly setLongDelays: (on: boolean) => Effect.Effect<void>
  /** Long reordering: 2/3 of replies are delayed by 200–2200 ms. */
  readonly setLongReordering: (on: boolean) => Effect.Effect<void>
  /**
   * Delivery latency: every request and every reply takes a uniformly random [minMs, maxMs] to arrive.
   * labrpc has none (0, the default): in Go, real execution time is the latency. A simulation that
   * loops on operations needs some, or its clients would run forever within one virtual instant.
   */
  readonly setLatency: (minMs: number, maxMs: number) => Effect.Effect<void>
  /**
   * Targeted fault: the next `count` replies travelling back through `end` are lost after their
   * handler ran (as an unreliable network would lose them, but on purpose).
   */
  readonly dropReplies: (end: string, count: number) => Effect.Effect<void>
  /** Calls that entered the network (including calls on disabled ends). */
  readonly totalCount: Effect.Effect<number>
  /** Encoded bytes: requests at send plus replies actually delivered. */
  readonly totalBytes: Effect.Effect<number>
  /** Calls that reached the server currently registered under `server` (0 if none). */
  readonly count: (server: string) => Effect.Effect<number>
  /** Shuts the network down: every later call fails. */
  readonly cleanup: Effect.Effect<void>
  /**
   * A `Transport` for node `self`: `call(to)` goes through the end `ends[to]`; `serve` registers its
   * handlers on a new server object named `self` (replacing any earlier one, which becomes dead). The
   * server is deleted when its last `serve` scope closes.
   */
  readonly transport: (options: {
    readonly self: NodeId
    readonly ends: Readonly<Record<NodeId, string>>
  }) => TransportShape
  /**
   * A `Transport` for `self` with one end per peer, named `self->peer`, created, connected and enabled
   * if it does not exist yet. For simulations that want a plain full mesh.
   */
  readonly meshTransport: (self: NodeId, peers: ReadonlyArray<NodeId>) => Effect.Effect<TransportShape>
  /** A hash of every event so far (requires `trace: true`). Equal seeds give equal hashes. */
  readonly traceHash: Effect.Effect<string>
  /** Number of traced events. */
  readonly traceLength: Effect.Effect<number>
}

/** The simulated network service tag. */
export class SimNetwork extends Context.Tag("concord/SimNetwork")<SimNetwork, SimNetworkShape>() {}

const DEAD_POLL = Duration.millis(100)

/** Creates a simulated network. */
export const make = (options: Options = {}): Effect.Effect<SimNetworkShape> =>
  Effect.sync(() => {
    const ends = new Map<string, End>()
    const servers = new Map<string, Server | undefined>()
    let reliable = true
    let longDelays = false
    let longReordering = false
    const replyDrops = new Map<string, number>()
    let latencyMin = 0
    let latencyMax = 0
    const latency: Effect.Effect<void> = Effect.suspend(() =>
      latencyMax <= 0
        ? Effect.void
        : Effect.flatMap(Random.nextRange(latencyMin, latencyMax), (ms) => Effect.sleep(Duration.millis(ms)))
    )
    let shutdown = false
    let totalCount = 0
    let totalBytes = 0
    const trace: Array<string> | undefined = options.trace === true ? [] : undefined

    // The event text is built only when tracing (every simulated RPC passes here).
    const record = (event: () => string): Effect.Effect<void> =>
      trace === undefined
        ? Effect.void
        : Effect.clockWith((clock) => Effect.sync(() => trace.push(`${clock.unsafeCurrentTimeMillis()} ${event()}`)))

    const fail = (reason: TransportError["reason"], peer: NodeId, detail: string) =>
      Effect.fail(withoutStack(() => new TransportError({ reason, peer, detail })))

    const isDead = (end: End, serverName: string, server: Server) =>
      !end.enabled || servers.get(serverName) !== server

    // Calls waiting for a handler. labrpc polls each for death every 100 ms; here one poller does it for
    // all of them (a call still learns of death within 100 ms), and runs only while calls are waiting,
    // so an idle network schedules no timers. Racing each call against its own poll timer cost two
    // fibers and a timer per RPC.
    interface Waiting {
      readonly end: End
      readonly serverName: string
      readonly server: Server
      readonly resume: (outcome: Effect.Effect<Exit.Exit<Uint8Array> | undefined>) => void
    }
    const waiting = new Set<Waiting>()
    let polling = false
    const poller: Effect.Effect<void> = Effect.sleep(DEAD_POLL).pipe(
      Effect.zipRight(Effect.suspend(() => {
        for (const w of waiting) {
          if (isDead(w.end, w.serverName, w.server)) {
            waiting.delete(w)
            w.resume(Effect.succeed(undefined))
          }
        }
        if (waiting.size > 0) return poller
        polling = false
        return Effect.void
      }))
    )
    /** Waits for the handler's reply; undefined if the server is found dead first. */
    const awaitHandler = (
      started: Started,
      end: End,
      serverName: string,
      server: Server
    ): Effect.Effect<Exit.Exit<Uint8Array> | undefined> => {
      const wait = Effect.async<Exit.Exit<Uint8Array> | undefined>((resume) => {
        const w: Waiting = { end, serverName, server, resume }
        waiting.add(w)
        started.observe((exit) => {
          if (waiting.delete(w)) resume(Effect.succeed(exit))
        })
        return Effect.sync(() => void waiting.delete(w))
      })
      return Effect.suspend(() => {
        if (polling) return wait
        polling = true
        return Effect.zipRight(Effect.forkDaemon(poller), wait)
      })
    }

    // One call through `endName`, as labrpc's processReq does it.
    const callThrough = <Req extends AnyRequest>(
      endName: string | undefined,
      to: NodeId,
      request: Req,
      counters: MutableCounters
    ): Effect.Effect<Success<Req>, Failure<Req> | TransportError> =>
      Effect.suspend(() => {
        if (shutdown) return fail("Shutdown", to, "the simulated network was shut down")
        const bytes = encodeRequest(request)
        totalCount++
        totalBytes += bytes.length
        counters.calls++
        counters.bytesSent += bytes.length
        const end = endName === undefined ? undefined : ends.get(endName)
        const serverName = end?.server
        const server = serverName === undefined ? undefined : servers.get(serverName)
        const tag = (request as { readonly _tag: string })._tag
        if (end === undefined || !end.enabled || serverName === undefined || server === undefined) {
          // No delivery: the caller learns of the failure only after a delay.
          return Effect.flatMap(Random.nextIntBetween(0, longDelays ? 7000 : 100), (ms) =>
            record(() => `unreachable ${endName} ${tag} ${ms}`).pipe(
              Effect.zipRight(Effect.sleep(Duration.millis(ms))),
              Effect.zipRight(fail("Unreachable", to, `end ${endName ?? "(none)"} is disabled or its server is dead`))
            ))
        }
        return Effect.gen(function*() {
          yield* record(() => `send ${endName} ${serverName} ${tag} ${bytes.length}`)
          yield* latency
          if (!reliable) {
            yield* Effect.sleep(Duration.millis(yield* Random.nextIntBetween(0, 27)))
            if ((yield* Random.nextIntBetween(0, 1000)) < 100) {
              yield* record(() => `drop-request ${endName}`)
              return yield* fail("Dropped", to, "the simulated network lost the request")
            }
          }
          server.count++
          server.counters.served++
          server.counters.bytesReceived += bytes.length
          const started = server.dispatcher.dispatch(bytes)
          let replyBytes: Uint8Array
          if (started instanceof Uint8Array) {
            replyBytes = started
          } else {
            const outcome = yield* awaitHandler(started, end, serverName, server)
            if (outcome === undefined || Exit.isFailure(outcome)) {
              yield* record(() => `dead-during ${endName}`)
              return yield* fail("Unreachable", to, `server ${serverName} died while handling ${tag}`)
            }
            replyBytes = outcome.value
          }
          if (isDead(end, serverName, server)) {
            yield* record(() => `dead-after ${endName}`)
            return yield* fail("Unreachable", to, `server ${serverName} is dead; its reply was discarded`)
          }
          const planned = replyDrops.get(end.name) ?? 0
          if (planned > 0) replyDrops.set(end.name, planned - 1)
          if (planned > 0 || (!reliable && (yield* Random.nextIntBetween(0, 1000)) < 100)) {
            yield* record(() => `drop-reply ${endName}`)
            return yield* fail("Dropped", to, "the simulated network lost the reply")
          }
          if (longReordering && (yield* Random.nextIntBetween(0, 900)) < 600) {
            const inner = yield* Random.nextIntBetween(0, 2001)
            const ms = 200 + (yield* Random.nextIntBetween(0, inner + 1))
            yield* record(() => `reorder ${endName} ${ms}`)
            yield* Effect.sleep(Duration.millis(ms))
          }
          yield* latency
          totalBytes += replyBytes.length
          server.counters.bytesSent += replyBytes.length
          counters.bytesReceived += replyBytes.length
          yield* record(() => `reply ${endName} ${replyBytes.length}`)
          return yield* decodeReply(request, to, replyBytes)
        })
      })

    const transport = (opts: {
      readonly self: NodeId
      readonly ends: Readonly<Record<NodeId, string>>
    }): TransportShape => {
      let server: Server | undefined
      let served = 0
      const counters = zeroCounters()
      return {
        self: opts.self,
        counters: Effect.sync(() => ({ ...counters })),
        call: <Req extends AnyRequest>(to: NodeId, request: Req, callOptions?: CallOptions) => {
          const effect = Effect.tapError(
            callThrough(opts.ends[to], to, request, counters),
            () => Effect.sync(() => counters.callFailures++)
          )
          return callOptions?.timeout === undefined ? effect : Effect.timeoutFail(effect, {
            duration: callOptions.timeout,
            onTimeout: () =>
              new TransportError({ reason: "Timeout", peer: to, detail: `no reply within ${Duration.format(callOptions.timeout!)}` })
          })
        },
        serve: (protocol, handlers, serveOptions) =>
          Effect.gen(function*() {
            const fork = yield* FiberSet.makeRuntime<any, any, never>()
            if (server === undefined || servers.get(opts.self) !== server) {
              server = { name: opts.self, dispatcher: new Dispatcher(), count: 0, counters }
              servers.set(opts.self, server)
            }
            const current = server
            yield* current.dispatcher.register(protocol, handlers, fork as any, serveOptions)
            served++
            yield* Effect.addFinalizer(() =>
              Effect.sync(() => {
                served--
                if (served === 0 && servers.get(opts.self) === current) servers.set(opts.self, undefined)
              })
            )
          }) as Effect.Effect<void, never, Scope.Scope>
      }
    }

    const shape: SimNetworkShape = {
      makeEnd: (name) =>
        Effect.sync(() => {
          if (ends.has(name)) throw new Error(`SimNetwork: duplicate end name ${name}`)
          ends.set(name, { name, enabled: false, server: undefined })
        }),
      connect: (name, server) =>
        Effect.sync(() => {
          const end = ends.get(name)
          if (end === undefined) throw new Error(`SimNetwork: connect on unknown end ${name}`)
          end.server = server
        }),
      enable: (name, enabled) =>
        Effect.sync(() => {
          const end = ends.get(name)
          if (end === undefined) throw new Error(`SimNetwork: enable on unknown end ${name}`)
          end.enabled = enabled
        }),
      deleteServer: (name) => Effect.sync(() => void servers.set(name, undefined)),
      setReliable: (on) => Effect.sync(() => void (reliable = on)),
      setLongDelays: (on) => Effect.sync(() => void (longDelays = on)),
      setLongReordering: (on) => Effect.sync(() => void (longReordering = on)),
      dropReplies: (end, count) => Effect.sync(() => void replyDrops.set(end, count)),
      setLatency: (minMs, maxMs) =>
        Effect.sync(() => {
          if (!(minMs >= 0 && maxMs >= minMs)) throw new Error(`SimNetwork: bad latency range [${minMs}, ${maxMs}]`)
          latencyMin = minMs
          latencyMax = maxMs
        }),
      totalCount: Effect.sync(() => totalCount),
      totalBytes: Effect.sync(() => totalBytes),
      count: (name) => Effect.sync(() => servers.get(name)?.count ?? 0),
      cleanup: Effect.sync(() => void (shutdown = true)),
      transport,
      meshTransport: (self, peers) =>
        Effect.sync(() => {
          const map: Record<NodeId, string> = {}
          for (const peer of peers) {
            const name = `${self}->${peer}`
            if (!ends.has(name)) ends.set(name, { name, enabled: true, server: peer })
            map[peer] = name
          }
          return transport({ self, ends: map })
        }),
      traceHash: Effect.sync(() => hashLines(trace ?? [])),
      traceLength: Effect.sync(() => trace?.length ?? 0)
    }
    return shape
  })

/** A fresh simulated network. */
export const layer = (options: Options = {}): Layer.Layer<SimNetwork> => Layer.effect(SimNetwork, make(options))

/** The `Transport` of node `self` on the `SimNetwork` in context (see `SimNetworkShape.transport`). */
export const layerTransport = (options: {
  readonly self: NodeId
  readonly ends: Readonly<Record<NodeId, string>>
}): Layer.Layer<Transport, never, SimNetwork> =>
  Layer.effect(Transport, Effect.map(SimNetwork, (net) => net.transport(options)))

/** A full-mesh `Transport` for `self` on the `SimNetwork` in context (see `meshTransport`). */
export const layerMesh = (self: NodeId, peers: ReadonlyArray<NodeId>): Layer.Layer<Transport, never, SimNetwork> =>
  Layer.effect(Transport, Effect.flatMap(SimNetwork, (net) => net.meshTransport(self, peers)))

// FNV-1a over the lines, two 32-bit lanes: a stable, dependency-free digest of a trace.
const hashLines = (lines: ReadonlyArray<string>): string => {
  let h1 = 0x811c9dc5
  let h2 = 0x01000193 ^ lines.length
  for (const line of lines) {
    for (let i = 0; i < line.length; i++) {
      const c = line.charCodeAt(i)
      h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0
      h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0
    }
    h1 = Math.imul(h1 ^ 10, 0x01000193) >>> 0
    h2 = Math.imul(h2 ^ 10, 0x5bd1e995) >>> 0
  }
  return h1.toString(16).padStart(8, "0") + h2.toString(16).padStart(8, "0")
}
