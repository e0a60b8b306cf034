/**
 * `Clerk`: the retry loop every client of a service replicated on Raft needs (6.824's clerk), once.
 * `KvClient`, `CtrlClient` and `ShardKvClient` are thin wrappers over it.
 *
 * A clerk talks to one replica group. It remembers which server led last, follows `NotLeader`
 * hints, moves to the next server after a lost reply, a transport failure or a `Retry`, and pauses
 * after every full round of failures; it resends the very same request throughout, so a request
 * carrying a client id and sequence number (see `Session`) executes at most once. It retries
 * forever: bound an operation with `deadline` (the caller's timeout). Any other typed failure of the
 * request (`InvalidRequest`, a sharded service's `WrongGroup`) ends the call: it is the answer; so
 * does a server's refusal to serve this client at all (`Unauthorized`: no or a wrong token).
 * @since 0.1.0
 */
import { Data, Duration, Effect, Random } from "effect"
import type { NotLeader } from "../raft/Messages.js"
import { type AnyRequest, type Failure, type NodeId, type Success, Transport, type TransportError } from "../rpc/Transport.js"
import { withoutStack } from "../internal/errors.js"
import type { Retry } from "./Messages.js"

export interface Options {
  /** The group's servers (their names on the Transport). */
  readonly servers: ReadonlyArray<NodeId>
  /** Timeout of each RPC; default: the Transport's. */
  readonly callTimeout?: Duration.DurationInput
  /** Pause after every server failed once in a row. Default 20 ms. */
  readonly retryPause?: Duration.DurationInput
  /**
   * Follow a leader hint that names a server not in `servers` (a member added to the cluster since),
   * adding it to the list. Only for a clerk whose servers are node ids on a transport that learns new
   * members' addresses (a node's own); elsewhere a hint is a name the transport cannot dial (a sharded
   * group's servers are addresses, its hints ids). Default false: such a hint is ignored.
   */
  readonly followUnlisted?: boolean
}

/** What a call ends with: the request's own failures, minus those the clerk retries, or a refusal. */
export type Answer<Req> = Exclude<Failure<Req>, NotLeader | Retry> | Unauthorized

/**
 * A server refused this client: the token it requires is missing or wrong (see `Tcp.Options.auth`).
 * Every server of a cluster requires the same token, so the clerk does not try the others.
 */
export class Unauthorized extends Data.TaggedError("Unauthorized")<{ readonly server: NodeId; readonly detail: string }> {
  override get message() {
    return `unauthorized: ${this.server} refused the request: ${this.detail}`
  }
}

/** No server of the group answered within the rounds a caller allowed (`Clerk.callRounds`). */
export class NoAnswer extends Data.TaggedError("NoAnswer")<{ readonly servers: ReadonlyArray<NodeId> }> {
  override get message() {
    return `no answer from any of ${this.servers.join(", ")}`
  }
}

export interface Clerk {
  readonly servers: ReadonlyArray<NodeId>
  /** Sends `request` until a server answers it (success or a failure the clerk does not retry). */
  readonly call: <Req extends AnyRequest>(request: Req) => Effect.Effect<Success<Req>, Answer<Req>>
  /**
   * As `call`, but gives up with `NoAnswer` after `rounds` rounds in which every server failed (a
   * caller that may have the wrong group, such as a sharded clerk, then learns the config again).
   */
  readonly callRounds: <Req extends AnyRequest>(request: Req, rounds: number) => Effect.Effect<Success<Req>, Answer<Req> | NoAnswer>
}

const isRetried = (e: unknown): e is NotLeader | Retry | TransportError => {
  const tag = (e as { _tag?: unknown })._tag
  return tag === "NotLeader" || tag === "Retry" || tag === "TransportError"
}

export const make = (options: Options): Effect.Effect<Clerk, never, Transport> =>
  Effect.gen(function*() {
    const transport = yield* Transport
    // With `followUnlisted`, a hint naming a server not listed is added: the cluster grew.
    const servers = [...options.servers]
    if (servers.length === 0) return yield* Effect.dieMessage("a clerk needs at least one server")
    const pause = Duration.decode(options.retryPause ?? "20 millis")
    const callOptions = options.callTimeout === undefined ? undefined : { timeout: options.callTimeout }
    let leader = yield* Random.nextIntBetween(0, servers.length)

    const callRounds = <Req extends AnyRequest>(request: Req, rounds: number): Effect.Effect<Success<Req>, Answer<Req> | NoAnswer> =>
      Effect.suspend(() => {
        let failuresInARow = 0
        const attempt: Effect.Effect<Success<Req>, Answer<Req> | NoAnswer> = Effect.suspend(() =>
          transport.call(servers[leader]!, request, callOptions).pipe(
            Effect.catchIf(isRetried, (e) => {
              if (e._tag === "TransportError" && e.reason === "Unauthorized") {
                return Effect.fail(new Unauthorized({ server: e.peer, detail: e.detail }))
              }
              const hint = e._tag === "NotLeader" ? e.leaderHint : null
              if (hint !== null && options.followUnlisted === true && !servers.includes(hint)) servers.push(hint)
              const hinted = hint === null ? -1 : servers.indexOf(hint)
              if (hinted >= 0 && hinted !== leader) {
                leader = hinted
                return attempt
              }
              leader = (leader + 1) % servers.length
              failuresInARow++
              if (failuresInARow % servers.length !== 0) return attempt
              if (failuresInARow >= rounds * servers.length) return Effect.fail(new NoAnswer({ servers }))
              return Effect.zipRight(Effect.sleep(pause), attempt)
            })
          ) as Effect.Effect<Success<Req>, Answer<Req> | NoAnswer>
        )
        return attempt
      })
    const call = <Req extends AnyRequest>(request: Req) =>
      callRounds(request, Infinity) as Effect.Effect<Success<Req>, Answer<Req>>

    return { servers, call, callRounds }
  })

/**
 * A client's identity for exactly-once operations: its id and the sequence numbers of its
 * operations, which run one at a time (the servers' duplicate tables rely on it).
 */
export interface Session {
  readonly clientId: number
  /** Runs `operation` with the next sequence number once the previous operation has finished. */
  readonly next: <A, E, R>(operation: (seq: number) => Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

/** A random 52-bit client id: unique among any realistic number of clients. */
export const randomClientId: Effect.Effect<number> = Effect.map(
  Effect.zip(Random.nextIntBetween(0, 2 ** 26), Random.nextIntBetween(0, 2 ** 26)),
  ([hi, lo]) => hi * 2 ** 26 + lo
)

export const makeSession = (clientId?: number): Effect.Effect<Session> =>
  Effect.gen(function*() {
    const id = clientId ?? (yield* randomClientId)
    const one = yield* Effect.makeSemaphore(1)
    let seq = 0
    return {
      clientId: id,
      next: (operation) => one.withPermits(1)(Effect.suspend(() => operation(++seq)))
    }
  })

/**
 * Bounds `effect` by the caller's `timeout` (none: unbounded), failing with `onTimeout(after)`.
 * Everything the clerk does is interruptible, so the retries stop when it fires.
 */
export const deadline = <A, E, R, E2>(
  effect: Effect.Effect<A, E, R>,
  timeout: Duration.DurationInput | undefined,
  onTimeout: (after: Duration.Duration) => E2
): Effect.Effect<A, E | E2, R> => {
  if (timeout === undefined) return effect
  const after = Duration.decode(timeout)
  return Effect.timeoutFail(effect, { duration: after, onTimeout: () => withoutStack(() => onTimeout(after)) })
}
