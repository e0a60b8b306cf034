/**
 * Request deadlines for code that is not a transport handler (a server's own handlers get theirs from
 * `Transport.serve`'s `deadline` option, which costs no fiber): every effect gets the same timeout,
 * and one watcher fiber answers the overdue ones. Each effect runs in one forked fiber, interrupted
 * when its deadline passes.
 * @since 0.1.0
 */
import { Effect, Fiber, type Scope } from "effect"
import * as Watcher from "../rpc/internal/watcher.js"

/** Runs an effect under the deadline. */
export type WithDeadline<E> = <A, E2>(effect: Effect.Effect<A, E2>) => Effect.Effect<A, E | E2>

/**
 * Starts the watcher in the current scope; `onTimeout` makes the error an overdue effect fails with
 * (the effect is interrupted).
 */
export const make = <E>(timeoutMs: number, onTimeout: () => E): Effect.Effect<WithDeadline<E>, never, Scope.Scope> =>
  Effect.map(Watcher.make(timeoutMs), (watcher) => withWatcher(watcher, onTimeout))

/** As `make`, on a watcher of the caller's (which may serve other deadlines of the same length too). */
export const withWatcher = <E>(watcher: Watcher.Watcher, onTimeout: () => E): WithDeadline<E> =>
<A, E2>(effect: Effect.Effect<A, E2>): Effect.Effect<A, E | E2> =>
  Effect.flatMap(Effect.fork(effect), (fiber) =>
    Effect.async<A, E | E2>((resume) => {
      const ticket = watcher.add(() => {
        resume(Effect.fail(onTimeout()))
        fiber.unsafeInterruptAsFork(fiber.id())
      })
      fiber.addObserver((exit) => {
        if (watcher.remove(ticket)) resume(exit)
      })
      return Effect.suspend(() => watcher.remove(ticket) ? Fiber.interrupt(fiber) : Effect.void)
    }))
