/**
 * Moving time the same way under both test clocks: Effect's `TestClock` only moves when the test says
 * `TestClock.adjust`, the Simulation kernel (and the real clock) move by themselves while a fiber
 * sleeps. These helpers let the test kit wait for something (a leader, an operation) under either.
 */
import { type Clock, Duration, Effect, Exit, Fiber, Option, TestClock } from "effect"

/**
 * Whether `clock` is Effect's `TestClock`: the only `Clock` with `adjust`. (The TestClock is installed
 * as the fiber's default Clock by `@effect/vitest`'s `it.effect` / `it.scoped`; `TestClock.adjust`
 * itself cannot tell, it assumes one.)
 */
export const isTestClock = (clock: Clock.Clock): boolean =>
  typeof (clock as unknown as { readonly adjust?: unknown }).adjust === "function"

/** Lets `duration` pass: `TestClock.adjust` under the TestClock, a sleep under any other clock. */
export const advance = (duration: Duration.DurationInput): Effect.Effect<void> =>
  Effect.flatMap(Effect.clock, (clock) => (isTestClock(clock) ? TestClock.adjust(duration) : Effect.sleep(duration)))

/**
 * Runs `effect`, letting time pass in steps of `step` while it has not finished, for at most `within`
 * (then `None`, with `effect` interrupted). Under a clock that moves by itself this is a plain timeout;
 * under the TestClock the effect is forked and the clock adjusted step by step.
 */
export const drive = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options: { readonly step: Duration.DurationInput; readonly within: Duration.DurationInput }
): Effect.Effect<Option.Option<A>, E, R> =>
  Effect.flatMap(Effect.clock, (clock) => {
    if (!isTestClock(clock)) return Effect.timeout(effect, options.within).pipe(Effect.asSome, Effect.catchTag("TimeoutException", () => Effect.succeedNone))
    const stepMs = Duration.toMillis(options.step)
    const withinMs = Duration.toMillis(options.within)
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(effect)
      let waited = 0
      for (;;) {
        const done = yield* Fiber.poll(fiber)
        if (Option.isSome(done)) {
          const exit = done.value
          return Exit.isSuccess(exit) ? Option.some(exit.value) : yield* Effect.failCause(exit.cause)
        }
        if (waited >= withinMs) {
          yield* Fiber.interrupt(fiber)
          return Option.none<A>()
        }
        const next = Math.min(stepMs, withinMs - waited)
        yield* TestClock.adjust(Duration.millis(next))
        waited += next
      }
    })
  })
