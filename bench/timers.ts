/**
 * What one timer firing costs under each test clock (README "Testing your application"): a fiber that
 * sleeps 1 ms `n` times in a row, under Effect's TestClock (driven by `TestClock.adjust`) and under
 * the Simulation kernel. Prints wall time per firing and the ratio; nothing is asserted.
 */
import { Effect, Fiber, TestClock, TestContext } from "effect"
import { Simulation } from "../src/index.js"

const sleeps = (n: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) yield* Effect.sleep("1 millis")
  })

export const run = async (args: ReadonlyArray<string>) => {
  const n = Number(args[0] ?? 300)
  const t0 = performance.now()
  await Effect.runPromise(
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(sleeps(n))
      yield* TestClock.adjust(`${n} millis`)
      yield* Fiber.join(fiber)
    }).pipe(Effect.provide(TestContext.TestContext))
  )
  const testClockUs = ((performance.now() - t0) * 1000) / n
  const m = n * 1000
  const { stats } = await Simulation.runOrThrow(sleeps(m), { seed: 1 })
  const simulationUs = (stats.wallMs * 1000) / stats.timersFired
  console.log(`TestClock:  ${testClockUs.toFixed(1)} µs per timer firing (${n} firings)`)
  console.log(`Simulation: ${simulationUs.toFixed(2)} µs per timer firing (${stats.timersFired} firings)`)
  console.log(`ratio:      ${(testClockUs / simulationUs).toFixed(0)}×`)
}

if (import.meta.url === `file://${process.argv[1]}`) await run(process.argv.slice(2))
