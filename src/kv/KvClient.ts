/**
 * `KvClient`: the clerk of the key/value service, as an Effect service.
 *
 * A thin wrapper over the generic `Clerk`: it remembers which server leads, follows `NotLeader` hints,
 * and retries across servers after a lost reply, a timeout or a `Retry`, always with the same client
 * id and sequence number, so every Put and Append executes exactly once. Operations of one client run
 * one at a time (the duplicate table relies on it; concurrent calls queue). By default it retries
 * forever, as the labs require; an operation fails only when the caller's own `timeout` passes
 * (`KvTimeout`), or at once, before anything is sent, for a key or value the servers would refuse
 * (`InvalidRequest`, see `Limits`).
 * @since 0.1.0
 */
import { Context, Data, Duration, Effect, Layer } from "effect"
import * as Clerk from "../replica/Clerk.js"
import type { InvalidRequest } from "../replica/Messages.js"
import { type NodeId, Transport, type TransportError } from "../rpc/Transport.js"
import * as Limits from "./Limits.js"
import { KvGet, KvStatus, KvWrite, type NodeStatus } from "./Messages.js"

export interface Options {
  /** The servers of the cluster (their names on the Transport). */
  readonly servers: ReadonlyArray<NodeId>
  /** This client's id; default: a random 52-bit number. Two clients must never share one. */
  readonly clientId?: number
  /** Timeout of each RPC; default: the Transport's. */
  readonly callTimeout?: Duration.DurationInput
  /** Pause after every server failed once in a row. Default 20 ms. */
  readonly retryPause?: Duration.DurationInput
  /** Key and value limits, checked before sending. Default `Limits.defaults` (the servers'). */
  readonly limits?: Limits.Limits
  /** See `Clerk.Options.followUnlisted`: follow a leader hint naming a member added since. Default false. */
  readonly followUnlisted?: boolean
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

/** A server refused this client (no or a wrong token). */
export const Unauthorized = Clerk.Unauthorized
export type Unauthorized = Clerk.Unauthorized

/** What an operation fails with: the caller's timeout, a request refused as it stands, or a client refused. */
export type KvError = KvTimeout | InvalidRequest | Unauthorized

/** The operations of a key/value clerk: `KvClient`'s, and `ShardKvClient`'s for the sharded service. */
export interface KvOperations {
  readonly clientId: number
  /** The value of `key`, "" if it has none. */
  readonly get: (key: string, options?: OperationOptions) => Effect.Effect<string, KvError>
  readonly put: (key: string, value: string, options?: OperationOptions) => Effect.Effect<void, KvError>
  /** Appends to the value (an absent key counts as ""). */
  readonly append: (key: string, value: string, options?: OperationOptions) => Effect.Effect<void, KvError>
  readonly delete: (key: string, options?: OperationOptions) => Effect.Effect<void, KvError>
  /**
   * Sends a write under another client's id and sequence number (a proxy, such as the HTTP API, doing
   * so for its own callers): retried like the others, executed once per (clientId, seq). Not
   * serialized with this client's own operations.
   */
  readonly forward: (write: ForwardedWrite, options?: OperationOptions) => Effect.Effect<void, KvError>
}

export interface KvClientShape extends KvOperations {
  /** One server's status (no retry). */
  readonly status: (server: NodeId) => Effect.Effect<NodeStatus, TransportError>
}

export class KvClient extends Context.Tag("concord/KvClient")<KvClient, KvClientShape>() {}

export const make = (options: Options): Effect.Effect<KvClientShape, never, Transport> =>
  Effect.gen(function*() {
    const transport = yield* Transport
    const clerk = yield* Clerk.make(options)
    const session = yield* Clerk.makeSession(options.clientId)
    const clientId = session.clientId
    const limits = options.limits ?? Limits.defaults
    const callOptions = options.callTimeout === undefined ? undefined : { timeout: options.callTimeout }

    /** Refuses what the servers would refuse, then sends until answered, within the caller's timeout. */
    const run = <A>(
      op: KvTimeout["op"],
      key: string,
      value: string,
      send: Effect.Effect<A, InvalidRequest | Unauthorized>,
      o: OperationOptions | undefined
    ): Effect.Effect<A, KvError> => {
      const bad = Limits.check(key, value, limits)
      if (bad !== undefined) return Effect.fail(bad)
      return Clerk.deadline(send, o?.timeout, (after) => new KvTimeout({ op, key, after }))
    }
    const write = (op: ForwardedWrite["op"], key: string, value: string, o?: OperationOptions) =>
      run(op, key, value, session.next((seq) => clerk.call(new KvWrite({ op, key, value, clientId, seq }, true))), o)

    return {
      clientId,
      get: (key, o) => run("get", key, "", session.next((seq) => clerk.call(new KvGet({ key, clientId, seq }, true))), o),
      put: (key, value, o) => write("put", key, value, o),
      append: (key, value, o) => write("append", key, value, o),
      delete: (key, o) => write("delete", key, "", o),
      forward: (w, o) => run(w.op, w.key, w.value, clerk.call(new KvWrite(w, true)), o),
      status: (server) => transport.call(server, new KvStatus({}, true), callOptions)
    }
  })

export const layer = (options: Options): Layer.Layer<KvClient, never, Transport> => Layer.effect(KvClient, make(options))
