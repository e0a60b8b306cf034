/**
 * `Transport`: request/response RPC between named nodes.
 *
 * Messages are `Schema.TaggedRequest` classes; a request class names its success and failure schemas,
 * so a call is fully typed end to end and every message is encoded on the way out and decoded on the
 * way in (nodes never share memory, even in simulation). A node serves one or more `Protocol`s (a
 * group of request classes) with one handler per request tag.
 *
 * Two Layers implement it:
 * - `SimNetwork.layerTransport`: an in-process network with labrpc's faults (see `SimNetwork`);
 * - `Tcp.layer`: real sockets, length-prefixed frames, one multiplexed connection per peer.
 * @since 0.1.0
 */
import { Context, Data, type Duration, type Effect, type Schema, type Scope } from "effect"

export type { NodeId } from "../raft/core/types.js"
import type { NodeId } from "../raft/core/types.js"

/** Why a call failed at the transport level (the request may or may not have been executed). */
export type TransportErrorReason =
  /** No route to the peer: refused connection, disabled or unconnected simulated end, dead server. */
  | "Unreachable"
  /** The per-call timeout passed. */
  | "Timeout"
  /** The connection closed while the call was in flight. */
  | "Closed"
  /** The simulated network lost the request or the reply. */
  | "Dropped"
  /** The peer's handler died (a defect on the remote side). */
  | "Remote"
  /** The peer did not understand the request (unknown method, undecodable message). */
  | "Protocol"
  /** This transport has been shut down. */
  | "Shutdown"
  /** The peer refused the request: no or a wrong token, or a member-only request from a client (TCP). */
  | "Unauthorized"

/** A call failed in transport: the caller cannot know whether the peer executed the request. */
export class TransportError extends Data.TaggedError("TransportError")<{
  readonly reason: TransportErrorReason
  readonly peer: NodeId
  readonly detail: string
}> {
  override get message() {
    return `${this.reason}: call to ${this.peer} failed: ${this.detail}`
  }
}

/** Any request class usable on a Transport. */
export type AnyRequest = Schema.TaggedRequest.All

/** A request class: a Schema for the request plus its result schemas. */
export interface RequestClass<Req> extends Schema.Schema<Req, any, never> {
  readonly _tag: string
  readonly success: Schema.Schema.All
  readonly failure: Schema.Schema.All
}

/** A named group of request classes served together (e.g. Raft's RequestVote, AppendEntries, ...). */
export interface Protocol<Req extends AnyRequest> {
  readonly name: string
  readonly classes: ReadonlyArray<RequestClass<Req>>
}

/** Makes a protocol from its request classes. Tags must be unique across the protocols a node serves. */
export const protocol = <const Classes extends ReadonlyArray<RequestClass<any>>>(
  name: string,
  ...classes: Classes
): Protocol<Schema.Schema.Type<Classes[number]>> => ({ name, classes })

/** The success type of a request. */
export type Success<Req> = Schema.WithResult.Success<Req>
/** The typed failure of a request. */
export type Failure<Req> = Schema.WithResult.Failure<Req>

/** One handler per request tag of a protocol. */
export type Handlers<Req extends AnyRequest, R> = {
  readonly [K in Req["_tag"]]: (
    request: Extract<Req, { readonly _tag: K }>
  ) => Effect.Effect<Success<Extract<Req, { readonly _tag: K }>>, Failure<Extract<Req, { readonly _tag: K }>>, R>
}

/** Options of one call. */
export interface CallOptions {
  /** Fail with `TransportError("Timeout")` if no reply arrives within this time. */
  readonly timeout?: Duration.DurationInput
}

/** Counts since the transport started, for a metrics endpoint. */
export interface TransportCounters {
  /** Calls made, and how many of them failed in transport. */
  readonly calls: number
  readonly callFailures: number
  /** Requests this node served. */
  readonly served: number
  /** Bytes out and in: requests and replies, as encoded (plus framing, over TCP). */
  readonly bytesSent: number
  readonly bytesReceived: number
  /** Connections to peers that could not be made, broke or were closed (TCP). */
  readonly connectionFailures: number
}

/** A mutable `TransportCounters`, as the Layers keep it. @internal */
export type MutableCounters = { -readonly [K in keyof TransportCounters]: TransportCounters[K] }

/** @internal */
export const zeroCounters = (): MutableCounters => ({
  calls: 0,
  callFailures: 0,
  served: 0,
  bytesSent: 0,
  bytesReceived: 0,
  connectionFailures: 0
})

/** The Transport service. */
export interface TransportShape {
  /** This node's own name. */
  readonly self: NodeId
  /** Sends `request` to `to` and waits for its reply: the handler's success, its typed failure, or a `TransportError`. */
  readonly call: <Req extends AnyRequest>(
    to: NodeId,
    request: Req,
    options?: CallOptions
  ) => Effect.Effect<Success<Req>, Failure<Req> | TransportError>
  /**
   * Serves `protocol` with `handlers` until the scope closes. Handlers run in fibers of that scope.
   * With `options.deadline`, a request still running after its time is answered at once and its
   * handler interrupted (see `ServeOptions`).
   */
  readonly serve: <Req extends AnyRequest, R>(
    protocol: Protocol<Req>,
    handlers: Handlers<Req, R>,
    options?: ServeOptions<Req>
  ) => Effect.Effect<void, never, Scope.Scope | R>
  /** Counters since the transport started. */
  readonly counters: Effect.Effect<TransportCounters>
}

/** How a protocol is served. */
export interface ServeOptions<Req extends AnyRequest> {
  /**
   * A server-side deadline, as gRPC servers have: a request still running `ms` after it arrived is
   * answered with `onTimeout(request)`, one of that request's own failures, and its handler is
   * interrupted. `onTimeout` returning undefined exempts the request. One watcher fiber serves all
   * the protocol's requests; no fiber or timer is made per request.
   */
  readonly deadline?: {
    readonly ms: number
    readonly onTimeout: (request: Req) => Failure<Req> | undefined
  }
}

/** The Transport service tag. */
export class Transport extends Context.Tag("concord/Transport")<Transport, TransportShape>() {}
