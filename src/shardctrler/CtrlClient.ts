/**
 * `CtrlClient`: the shard controller's clerk, as an Effect service: a thin wrapper over `Clerk`.
 * Join, Leave and Move carry this client's id and the next sequence number (executed once however
 * often they are retried); Query is linearizable. It retries across the controller replicas forever,
 * or until the caller's `timeout` (`CtrlTimeout`); a command the controller refuses (a gid already
 * joined, an unknown gid, a shard out of range) fails with `InvalidRequest`.
 * @since 0.1.0
 */
import { Context, Data, Duration, Effect, Layer } from "effect"
import * as Clerk from "../replica/Clerk.js"
import type { InvalidRequest } from "../replica/Messages.js"
import { type NodeId, Transport, type TransportError } from "../rpc/Transport.js"
import { type Config, fromWire, type Gid } from "./Config.js"
import { CtrlJoin, CtrlLeave, CtrlMove, type CtrlNodeStatus, CtrlQuery, CtrlStatus } from "./Messages.js"

export interface Options {
  /** The controller replicas (their names on the Transport). */
  readonly servers: ReadonlyArray<NodeId>
  /** This client's id; default: a random 52-bit number. */
  readonly clientId?: number
  /** Timeout of each RPC; default: the Transport's. */
  readonly callTimeout?: Duration.DurationInput
  /** Pause after every replica failed once in a row. Default 100 ms, as 6.824's clerk. */
  readonly retryPause?: Duration.DurationInput
}

export interface OperationOptions {
  /** Give up (with `CtrlTimeout`) after this long. Default: never. */
  readonly timeout?: Duration.DurationInput
}

/** The caller's deadline passed before the operation completed (a Join/Leave/Move may still take effect). */
export class CtrlTimeout extends Data.TaggedError("CtrlTimeout")<{
  readonly op: "join" | "leave" | "move" | "query"
  readonly after: Duration.Duration
}> {
  override get message() {
    return `${this.op} did not complete within ${Duration.format(this.after)}`
  }
}

export type CtrlError = CtrlTimeout | InvalidRequest | Clerk.Unauthorized

/** A command on behalf of another client (a proxy such as the HTTP API), with its id and sequence number. */
export type Forwarded =
  | { readonly op: "join"; readonly groups: ReadonlyMap<Gid, ReadonlyArray<string>> }
  | { readonly op: "leave"; readonly gids: ReadonlyArray<Gid> }
  | { readonly op: "move"; readonly shard: number; readonly gid: Gid }

export interface CtrlClientShape {
  readonly clientId: number
  /** Adds groups (gid → servers) and rebalances; the new config. */
  readonly join: (groups: ReadonlyMap<Gid, ReadonlyArray<string>>, options?: OperationOptions) => Effect.Effect<Config, CtrlError>
  /** Removes groups and rebalances; the new config. */
  readonly leave: (gids: ReadonlyArray<Gid>, options?: OperationOptions) => Effect.Effect<Config, CtrlError>
  /** Assigns `shard` to `gid`; the new config. */
  readonly move: (shard: number, gid: Gid, options?: OperationOptions) => Effect.Effect<Config, CtrlError>
  /** Config `num`; -1 (the default) or beyond the latest: the latest. */
  readonly query: (num?: number, options?: OperationOptions) => Effect.Effect<Config, CtrlError>
  /** Sends a command under another client's id and sequence number (not serialized with this client's). */
  readonly forward: (
    command: Forwarded,
    identity: { readonly clientId: number; readonly seq: number },
    options?: OperationOptions
  ) => Effect.Effect<Config, CtrlError>
  /** One replica's status (no retry). */
  readonly status: (server: NodeId) => Effect.Effect<CtrlNodeStatus, TransportError>
}

export class CtrlClient extends Context.Tag("concord/CtrlClient")<CtrlClient, CtrlClientShape>() {}

const request = (c: Forwarded, clientId: number, seq: number) =>
  c.op === "join"
    ? new CtrlJoin({ groups: [...c.groups].map(([g, s]) => [g, s] as const), clientId, seq }, true)
    : c.op === "leave"
    ? new CtrlLeave({ gids: c.gids, clientId, seq }, true)
    : new CtrlMove({ shard: c.shard, gid: c.gid, clientId, seq }, true)

export const make = (options: Options): Effect.Effect<CtrlClientShape, never, Transport> =>
  Effect.gen(function*() {
    const transport = yield* Transport
    const clerk = yield* Clerk.make({ retryPause: "100 millis", ...options })
    const session = yield* Clerk.makeSession(options.clientId)
    const callOptions = options.callTimeout === undefined ? undefined : { timeout: options.callTimeout }
    const within = <A>(op: CtrlTimeout["op"], effect: Effect.Effect<A, InvalidRequest | Clerk.Unauthorized>, o?: OperationOptions) =>
      Clerk.deadline(effect, o?.timeout, (after) => new CtrlTimeout({ op, after }))
    const command = (c: Forwarded, o?: OperationOptions) =>
      within(c.op, session.next((seq) => Effect.map(clerk.call(request(c, session.clientId, seq)), fromWire)), o)
    return {
      clientId: session.clientId,
      join: (groups, o) => command({ op: "join", groups }, o),
      leave: (gids, o) => command({ op: "leave", gids }, o),
      move: (shard, gid, o) => command({ op: "move", shard, gid }, o),
      query: (num = -1, o) => within("query", Effect.map(clerk.call(new CtrlQuery({ num }, true)), fromWire), o),
      forward: (c, identity, o) => within(c.op, Effect.map(clerk.call(request(c, identity.clientId, identity.seq)), fromWire), o),
      status: (server) => transport.call(server, new CtrlStatus({}, true), callOptions)
    }
  })

export const layer = (options: Options): Layer.Layer<CtrlClient, never, Transport> => Layer.effect(CtrlClient, make(options))

