/**
 * One fiber that expires entries which all share the same timeout: insertion order is deadline
 * order, so the watcher sleeps until the oldest entry's deadline, and an idle watcher sleeps on a
 * latch. Adding and removing an entry is a Set operation, with no fiber or timer per entry: a
 * per-request `Effect.timeout`, or a forked fiber per request to interrupt, measured as much CPU as
 * the rest of a put on a leader.
 * @internal
 */
import { Effect, type Scope } from "effect"

export interface Ticket {
  readonly deadline: number
  readonly expire: () => void
}

export interface Watcher {
  readonly timeoutMs: number
  /** Calls `expire` once `timeoutMs` have passed, unless `remove`d before. */
  readonly add: (expire: () => void) => Ticket
  /** Whether the ticket was still waiting (it will not expire now). */
  readonly remove: (ticket: Ticket) => boolean
}

/** Starts a watcher in the current scope (its fiber stops with it). */
export const make = (timeoutMs: number): Effect.Effect<Watcher, never, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    const inFlight = new Set<Ticket>()
    const work = yield* Effect.makeLatch(false)
    yield* Effect.forkScoped(Effect.forever(Effect.suspend(() => {
      const oldest = inFlight.values().next().value
      if (oldest === undefined) {
        work.unsafeClose()
        return work.await
      }
      const wait = oldest.deadline - clock.unsafeCurrentTimeMillis()
      if (wait > 0) return Effect.sleep(Math.ceil(wait))
      inFlight.delete(oldest)
      // `expire` is the caller's code: if it throws, say so and go on expiring the others.
      try {
        oldest.expire()
        return Effect.void
      } catch (e) {
        return Effect.logError("a deadline's expiry failed", e)
      }
    })).pipe(Effect.interruptible))
    return {
      timeoutMs,
      add: (expire) => {
        const ticket: Ticket = { deadline: clock.unsafeCurrentTimeMillis() + timeoutMs, expire }
        if (inFlight.size === 0) work.unsafeOpen()
        inFlight.add(ticket)
        return ticket
      },
      remove: (ticket) => inFlight.delete(ticket)
    }
  })
