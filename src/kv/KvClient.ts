/**
 * `KvClient`: the clerk of the key/value service, as an Effect service.
 *
 * It remembers which server leads, follows `NotLeader` hints, and retries across servers after a
 * lost reply, a timeout or a `KvRetry`, always with the same client id and sequence number, so every
 * Put and Append executes exactly once. Operations of one client run one at a time (the duplicate
 * table relies on it; concurrent calls queue). By default it retries forever, as the labs require; an
 * operation fails only when the caller's own `timeout` passes (`KvTimeout`).
 * @since 0.1.0
 */
import { Context, Data, Duration, Effect, Layer, Random } from "effect"
import { withoutStack } from "../internal/errors.js"
import type { NotLeader } from "../raft/Messages.js"
import { type NodeId, Transport, type TransportError } from "../rpc/Transport.js"
import { KvGet, type KvRetry, KvStatus, KvWrite, type NodeStatus } from "./Messages.js"

export interface Options {
  /** The servers of the cluster (their names on the Transport). */
  readonly servers: ReadonlyArray<NodeId>
  /** This client's id; default: a random 52-bit number. Two clients must never share one. */
  readonly clientId?: number
  /** Timeout of each RPC; default: the Transport's. */
  readonly callTimeout?: Duration.DurationInput
  /** Pause after every server failed once in a row. Default 20 ms. */
  readonly retryPause?: Duration.DurationInput
}

export interface OperationOptions {
  /** Give up (with `KvTimeout`) after this long. Default: never. */
  readonly timeout?: Duration.DurationInput
}

/** The caller's deadline passed before the operation completed (a Put/Append may still take effect). */
export class KvTimeout extends Data.TaggedError("KvTimeout")<{
  readonly op: "get" | "put" | "append" | "delete"
  readonly key: string
  readonly after: Duration.Duration
}> {
  override get message() {
    return `${this.op} ${JSON.stringify(this.key)} did not complete within ${Duration.format(this.after)}`
  }
}

/** A write on behalf of another client, with that client's own id and sequence number. */
export interface ForwardedWrite {
  readonly op: "put" | "append" | "delete"
  readonly key: string
  readonly value: string
  readonly clientId: number
  readonly seq: number
}

export interface KvClientShape {
  readonly clientId: number
  /** The value of `key`, "" if it has none. */
  readonly get: (key: string, options?: OperationOptions) => Effect.Effect<string, KvTimeout>
  readonly put: (key: string, value: string, options?: OperationOptions) => Effect.Effect<void, KvTimeout>
  /** Appends to the value (an absent key counts as ""). */
  readonly append: (key: string, value: string, options?: OperationOptions) => Effect.Effect<void, KvTimeout>
  readonly delete: (key: string, options?: OperationOptions) => Effect.Effect<void, KvTimeout>
  /**
   * Sends a write under another client's id and sequence number (a proxy, such as the HTTP API, doing
   * so for its own callers): retried like the others, executed once per (clientId, seq). Not
   * serialized with this client's own operations.
   */
  readonly forward: (write: ForwardedWrite, options?: OperationOptions) => Effect.Effect<void, KvTimeout>
  /** One server's status (no retry). */
  readonly status: (server: NodeId) => Effect.Effect<NodeStatus, TransportError>
}

export class KvClient extends Context.Tag("concord/KvClient")<KvClient, KvClientShape>() {}

export const make = (options: Options): Effect.Effect<KvClientShape, never, Transport> =>
  Effect.gen(function*() {
    const transport = yield* Transport
    const servers = options.servers
    if (servers.length === 0) return yield* Effect.dieMessage("KvClient needs at least one server")
    const clientId = options.clientId ??
      (yield* Random.nextIntBetween(0, 2 ** 26)) * 2 ** 26 + (yield* Random.nextIntBetween(0, 2 ** 26))
    const pause = Duration.decode(options.retryPause ?? "20 millis")
    const callOptions = options.callTimeout === undefined ? undefined : { timeout: options.callTimeout }
    const one = yield* Effect.makeSemaphore(1)
    let leader = yield* Random.nextIntBetween(0, servers.length)
    let seq = 0

    /** Sends `request` until some server answers; it keeps its client id and sequence number throughout. */
    const send = <A>(req: KvGet | KvWrite, decode: (reply: unknown) => A): Effect.Effect<A> =>
      Effect.suspend(() => {
        let failuresInARow = 0
        const attempt: Effect.Effect<A> = Effect.suspend(() => {
          const server = servers[leader]!
          return (transport.call(server, req, callOptions) as Effect.Effect<unknown, NotLeader | KvRetry | TransportError>).pipe(
            Effect.map(decode),
            Effect.catchAll((e) => {
              const hinted = e._tag === "NotLeader" && e.leaderHint !== null ? servers.indexOf(e.leaderHint) : -1
              if (hinted >= 0 && hinted !== leader) {
                leader = hinted
                return attempt
              }
              leader = (leader + 1) % servers.length
              failuresInARow++
              if (failuresInARow % servers.length === 0) return Effect.zipRight(Effect.sleep(pause), attempt)
              return attempt
            })
          )
        })
        return attempt
      })

    const deadline = <A>(effect: Effect.Effect<A>, op: KvTimeout["op"], key: string, o?: OperationOptions) => {
      if (o?.timeout === undefined) return effect
      const after = Duration.decode(o.timeout)
      return Effect.timeoutFail(effect, {
        duration: after,
        onTimeout: () => withoutStack(() => new KvTimeout({ op, key, after }))
      })
    }
    /** This client's own operations: one at a time, each with the next sequence number. */
    const own = <A>(request: (seq: number) => KvGet | KvWrite, decode: (reply: unknown) => A, op: KvTimeout["op"], key: string, o?: OperationOptions) =>
      deadline(one.withPermits(1)(Effect.suspend(() => send(request(++seq), decode))), op, key, o)
    const write = (op: ForwardedWrite["op"], key: string, value: string, o?: OperationOptions) =>
      own((s) => new KvWrite({ op, key, value, clientId, seq: s }, true), () => undefined, op, key, o)

    return {
      clientId,
      get: (key, o) => own((s) => new KvGet({ key, clientId, seq: s }, true), (v) => v as string, "get", key, o),
      put: (key, value, o) => write("put", key, value, o),
      append: (key, value, o) => write("append", key, value, o),
      delete: (key, o) => write("delete", key, "", o),
      forward: (w, o) => deadline(send(new KvWrite(w, true), () => undefined), w.op, w.key, o),
      status: (server) => transport.call(server, new KvStatus({}, true), callOptions)
    }
  })

export const layer = (options: Options): Layer.Layer<KvClient, never, Transport> => Layer.effect(KvClient, make(options))
