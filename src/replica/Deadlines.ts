/**
 * Request deadlines for a server: every request gets the same timeout, and one watcher fiber answers
 * the overdue ones.
 *
 * `Effect.timeoutFail` per request races two forked fibers and a timer, which cost about as much as
 * the rest of a put on a leader; here each request runs in one forked fiber, and the watcher sleeps
 * until the oldest deadline. All requests have the same timeout, so insertion order is deadline order.
 * @since 0.1.0
 */
import { Effect, Fiber, type Scope } from "effect"

/** Runs an effect under the server's request deadline. */
export type WithDeadline<E> = <A, E2>(effect: Effect.Effect<A, E2>) => Effect.Effect<A, E | E2>

/**
 * Starts the watcher in the current scope; `onTimeout` makes the error an overdue request fails
 * with (its effect is interrupted).
 */
export const make = <E>(timeoutMs: number, onTimeout: () => E): Effect.Effect<WithDeadline<E>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    const now = () => clock.unsafeCurrentTimeMillis()
    interface InFlight {
      readonly deadline: number
      readonly expire: () => void
    }
    const inFlight = new Set<InFlight>()
    const work = yield* Effect.makeLatch(false)
    yield* Effect.forkScoped(Effect.forever(Effect.suspend(() => {
      const oldest = inFlight.values().next().value
      if (oldest === undefined) {
        work.unsafeClose()
        return work.await
      }
      const wait = oldest.deadline - now()
      if (wait > 0) return Effect.sleep(Math.ceil(wait))
      inFlight.delete(oldest)
      oldest.expire()
      return Effect.void
    })))
    return <A, E2>(effect: Effect.Effect<A, E2>): Effect.Effect<A, E | E2> =>
      Effect.flatMap(Effect.fork(effect), (fiber) =>
        Effect.async<A, E | E2>((resume) => {
          const entry: InFlight = {
            deadline: now() + timeoutMs,
            expire: () => {
              resume(Effect.fail(onTimeout()))
              fiber.unsafeInterruptAsFork(fiber.id())
            }
          }
          if (inFlight.size === 0) work.unsafeOpen()
          inFlight.add(entry)
          fiber.addObserver((exit) => {
            if (inFlight.delete(entry)) resume(exit)
          })
          return Effect.suspend(() => inFlight.delete(entry) ? Fiber.interrupt(fiber) : Effect.void)
        }))
  })
