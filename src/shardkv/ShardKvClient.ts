/**
 * `ShardKvClient`: the sharded key/value service's clerk, as an Effect service.
 *
 * It routes each key by its cached config (the key's shard, the shard's group, the group's servers),
 * asks that group through a `Clerk` (leader cache, hints, retries), and on `WrongGroup`, or when no
 * server of the group answers for a round, waits ~100 ms, fetches the latest config from the
 * controller and tries again: always with the same client id and sequence number, so every write
 * executes exactly once, whichever group it lands in (the duplicate table moves with the shard). It
 * retries forever, or until the caller's `timeout` (`KvTimeout`); a key or value the servers would
 * refuse fails at once (`InvalidRequest`). Operations of one client run one at a time.
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer } from "effect"
import { type ForwardedWrite, type KvError, type KvOperations, KvTimeout, type OperationOptions } from "../kv/KvClient.js"
import * as Limits from "../kv/Limits.js"
import * as Clerk from "../replica/Clerk.js"
import type { InvalidRequest } from "../replica/Messages.js"
import { type NodeId, Transport, type TransportError } from "../rpc/Transport.js"
import { type Config, shardOf } from "../shardctrler/Config.js"
import * as CtrlClient from "../shardctrler/CtrlClient.js"
import { ShardGet, type ShardNodeStatus, ShardStatus, ShardWrite } from "./Messages.js"

export { KvTimeout }
export type { ForwardedWrite, KvError, OperationOptions }

export interface Options {
  /** The controller replicas (their names on the Transport). */
  readonly ctrlers: ReadonlyArray<NodeId>
  /** This client's id; default: a random 52-bit number. */
  readonly clientId?: number
  /** Timeout of each RPC; default: the Transport's. */
  readonly callTimeout?: Duration.DurationInput
  /** Pause before fetching the config again after `WrongGroup`. Default 100 ms (6.824's). */
  readonly wrongGroupPause?: Duration.DurationInput
  readonly limits?: Limits.Limits
}

export interface ShardKvClientShape extends KvOperations {
  /** The config it routes by (fetched on first use and after `WrongGroup`). */
  readonly config: Effect.Effect<Config>
  /** One server's status (no retry). */
  readonly status: (server: NodeId) => Effect.Effect<ShardNodeStatus, TransportError>
}

export class ShardKvClient extends Context.Tag("concord/ShardKvClient")<ShardKvClient, ShardKvClientShape>() {}

export const make = (options: Options): Effect.Effect<ShardKvClientShape, never, Transport> =>
  Effect.gen(function*() {
    const transport = yield* Transport
    const ctrl = yield* CtrlClient.make({ servers: options.ctrlers, retryPause: "100 millis", ...(options.callTimeout === undefined ? {} : { callTimeout: options.callTimeout }) })
    const session = yield* Clerk.makeSession(options.clientId)
    const clientId = session.clientId
    const limits = options.limits ?? Limits.defaults
    const pause = Duration.decode(options.wrongGroupPause ?? "100 millis")
    const callOptions = options.callTimeout === undefined ? undefined : { timeout: options.callTimeout }
    const clerks = new Map<string, Clerk.Clerk>()
    let config: Config | undefined

    const latest = Effect.flatMap(Effect.orDie(ctrl.query(-1)), (c) => Effect.sync(() => (config = c)))
    const current = Effect.suspend(() => (config === undefined ? latest : Effect.succeed(config)))
    const clerkOf = (servers: ReadonlyArray<string>) =>
      Effect.suspend(() => {
        const key = servers.join(",")
        const hit = clerks.get(key)
        if (hit !== undefined) return Effect.succeed(hit)
        const clerkOptions = callOptions === undefined ? { servers } : { servers, callTimeout: callOptions.timeout }
        return Clerk.make(clerkOptions).pipe(Effect.tap((c) => Effect.sync(() => clerks.set(key, c))), Effect.provideService(Transport, transport))
      })

    /** Sends `request` to the group of `key`'s shard until one answers; on WrongGroup, learns the config again. */
    const route = <A>(key: string, request: ShardGet | ShardWrite): Effect.Effect<A, InvalidRequest> => {
      const attempt: Effect.Effect<A, InvalidRequest> = Effect.gen(function*() {
        const c = yield* current
        const gid = c.num === 0 ? 0 : c.shards[shardOf(c, key)]!
        const servers = c.groups.get(gid)
        if (servers === undefined || servers.length === 0) {
          yield* Effect.sleep(pause)
          yield* latest
          return yield* attempt
        }
        const clerk = yield* clerkOf(servers)
        const answer = yield* Effect.either(clerk.callRounds(request, 1))
        if (answer._tag === "Right") return answer.right as A
        if (answer.left._tag === "InvalidRequest") return yield* Effect.fail(answer.left)
        // WrongGroup, or nobody in the group answered: the shard may have moved.
        yield* Effect.sleep(pause)
        yield* latest
        return yield* attempt
      })
      return attempt
    }

    const run = <A>(op: KvTimeout["op"], key: string, value: string, send: Effect.Effect<A, InvalidRequest>, o?: OperationOptions) => {
      const bad = Limits.check(key, value, limits)
      if (bad !== undefined) return Effect.fail(bad)
      return Clerk.deadline(send, o?.timeout, (after) => new KvTimeout({ op, key, after }))
    }
    const write = (op: ForwardedWrite["op"], key: string, value: string, o?: OperationOptions) =>
      run(op, key, value, session.next((seq) => route<void>(key, new ShardWrite({ op, key, value, clientId, seq }, true))), o)

    return {
      clientId,
      get: (key, o) => run("get", key, "", session.next((seq) => route<string>(key, new ShardGet({ key, clientId, seq }, true))), o),
      put: (key, value, o) => write("put", key, value, o),
      append: (key, value, o) => write("append", key, value, o),
      delete: (key, o) => write("delete", key, "", o),
      forward: (w, o) => run(w.op, w.key, w.value, route<void>(w.key, new ShardWrite(w, true)), o),
      config: current,
      status: (server) => transport.call(server, new ShardStatus({}, true), callOptions)
    }
  })

export const layer = (options: Options): Layer.Layer<ShardKvClient, never, Transport> => Layer.effect(ShardKvClient, make(options))
