/**
 * `npm run bench -- sim`: wall-clock cost of a timer firing in virtual time, Concord's Simulation
 * kernel against Effect's TestClock, on the same workload measured in the same run: 10 fibers, each
 * sleeping a random 1–100 ms in a loop. TestClock is driven as fast as it can be: set to the earliest
 * pending deadline (`TestClock.sleeps`), repeatedly.
 */
import { Chunk, Effect, Fiber, Random, TestClock, TestContext } from "effect"
import { Simulation } from "../src/sim/Simulation.js"

const FIBERS = 10

const sleeper = (rounds: number, fired: { n: number }) =>
  Effect.gen(function*() {
    for (let k = 0; k < rounds; k++) {
      yield* Effect.sleep(`${yield* Random.nextIntBetween(1, 101)} millis`)
      fired.n++
    }
  })

const withSimulation = async (rounds: number) => {
  const fired = { n: 0 }
  const program = Effect.forEach(Array.from({ length: FIBERS }), () => sleeper(rounds, fired), { concurrency: "unbounded" })
  const start = performance.now()
  await new Simulation().run(program, { seed: 1 })
  return { fired: fired.n, ms: performance.now() - start }
}

const withTestClock = async (rounds: number) => {
  const fired = { n: 0 }
  const program = Effect.gen(function*() {
    const fibers = yield* Effect.forEach(Array.from({ length: FIBERS }), () => Effect.fork(sleeper(rounds, fired)))
    // The fairest driver: jump straight to the earliest pending deadline each time.
    while (fired.n < FIBERS * rounds) {
      const pending = yield* TestClock.sleeps()
      if (Chunk.isEmpty(pending)) {
        yield* Effect.yieldNow()
        continue
      }
      yield* TestClock.setTime(Math.min(...Chunk.toReadonlyArray(pending)))
    }
    yield* Fiber.joinAll(fibers)
  }).pipe(Effect.provide(TestContext.TestContext))
  const start = performance.now()
  await Effect.runPromise(program)
  return { fired: fired.n, ms: performance.now() - start }
}

export const run = async () => {
  const sim = await withSimulation(20_000)
  const test = await withTestClock(30)
  const simUs = (sim.ms * 1000) / sim.fired
  const testUs = (test.ms * 1000) / test.fired
  console.log(`virtual-time timer firings, ${FIBERS} fibers sleeping 1-100 ms in a loop`)
  console.log(`  Simulation: ${sim.fired} firings in ${sim.ms.toFixed(0)} ms: ${simUs.toFixed(1)} µs per firing`)
  console.log(`  TestClock:  ${test.fired} firings in ${test.ms.toFixed(0)} ms: ${testUs.toFixed(1)} µs per firing`)
  console.log(`  Simulation is ${(testUs / simUs).toFixed(0)}x faster per firing`)
}
