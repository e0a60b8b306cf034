/**
 * The simulation kernel: virtual time, ordering, deadlock and time-limit detection, and the same
 * library code running under Effect's TestClock.
 */
import { it as effectIt } from "@effect/vitest"
import { Clock, Deferred, Effect, Either, Exit, Fiber, Random, TestClock } from "effect"
import { describe, expect, it } from "vitest"
import * as SimNetwork from "../../src/rpc/SimNetwork.js"
import * as Simulation from "../../src/sim/Simulation.js"
import { Echo, Sleep, TestProtocol, testHandlers } from "../rpc/protocol.js"

describe("Simulation", () => {
  it("jumps virtual time to each timer; equal deadlines fire in registration order", async () => {
    const { value, stats } = await Simulation.runOrThrow(
      Effect.gen(function*() {
        const log: Array<string> = []
        const at = (ms: number, label: string) =>
          Effect.fork(Effect.sleep(`${ms} millis`).pipe(
            Effect.zipRight(Clock.currentTimeMillis),
            Effect.map((t) => log.push(`${label}@${t}`))
          ))
        const fibers = [yield* at(3000, "c"), yield* at(1000, "a"), yield* at(1000, "b"), yield* at(86_400_000, "day")]
        yield* Fiber.joinAll(fibers)
        return log
      }),
      { seed: 1 }
    )
    expect(value).toEqual(["a@1000", "b@1000", "c@3000", "day@86400000"])
    expect(stats.simulatedMs).toBe(86_400_000)
    expect(stats.wallMs).toBeLessThan(5_000) // a simulated day costs nothing
  })

  it("Effect.timeout and Schedule work on virtual time", async () => {
    const { value } = await Simulation.runOrThrow(
      Effect.gen(function*() {
        const timedOut = yield* Effect.either(Effect.timeoutFail(Effect.never, { duration: "5 seconds", onTimeout: () => "late" }))
        const t = yield* Clock.currentTimeMillis
        return { timedOut, t }
      }),
      { seed: 1 }
    )
    expect(value.timedOut).toEqual(Either.left("late"))
    expect(value.t).toBe(5000)
  })

  it("reports a deadlock instead of hanging", async () => {
    const { exit, stats } = await Simulation.run(
      Effect.gen(function*() {
        yield* Effect.sleep("2 seconds")
        const d = yield* Deferred.make<void>()
        yield* Deferred.await(d) // nobody completes it
      }),
      { seed: 1 }
    )
    expect(Exit.isFailure(exit)).toBe(true)
    expect(String(Exit.isFailure(exit) && exit.cause)).toContain("deadlocked at t=2000ms")
    expect(stats.simulatedMs).toBe(2000)
  })

  it("enforces the simulated-time limit and runs finalizers", async () => {
    let finalized = false
    const { exit } = await Simulation.run(
      Effect.forever(Effect.sleep("1 second")).pipe(Effect.ensuring(Effect.sync(() => (finalized = true)))),
      { seed: 1, timeLimit: "120 seconds" }
    )
    expect(String(Exit.isFailure(exit) && exit.cause)).toContain("simulated time limit of 120000ms exceeded")
    expect(finalized).toBe(true)
  })

  it("Random is seeded: same seed, same draws; the seed is reported in failures", async () => {
    const draws = Effect.all(Array.from({ length: 5 }, () => Random.nextInt))
    const a = await Simulation.runOrThrow(draws, { seed: 7 })
    const b = await Simulation.runOrThrow(draws, { seed: 7 })
    const c = await Simulation.runOrThrow(draws, { seed: 8 })
    expect(a.value).toEqual(b.value)
    expect(a.value).not.toEqual(c.value)
    await expect(Simulation.runOrThrow(Effect.fail("no"), { seed: 99 })).rejects.toThrow("seed=99")
  })

  it("seedPlan: SEED replays one seed, CONCORD_SWEEP runs a range, otherwise a fresh seed", () => {
    expect(Simulation.seedPlan({ SEED: "12" }, () => 5)).toEqual({ seeds: [12], sweep: false })
    expect(Simulation.seedPlan({ CONCORD_SWEEP: "3", CONCORD_SWEEP_BASE: "10" }, () => 5)).toEqual({
      seeds: [10, 11, 12],
      sweep: true
    })
    expect(Simulation.seedPlan({}, () => 5)).toEqual({ seeds: [5], sweep: false })
    expect(() => Simulation.seedPlan({ SEED: "x" }, () => 5)).toThrow("SEED must be a non-negative integer")
  })
})

describe("The same library code under Effect's TestClock", () => {
  // SimNetwork only uses Clock/Effect.sleep/Random, so TestClock drives it too: a call on a disabled end
  // stays pending until the test moves time past the network's 0-99 ms failure delay.
  // Seeded: the simulated failure delay is drawn from 0-99 ms, and a draw of 0 would fail at once.
  effectIt.scoped("a call on a disabled end fails only once TestClock passes the failure delay", () =>
    Effect.withRandom(Random.make(42))(Effect.gen(function*() {
      const net = yield* SimNetwork.make()
      yield* net.transport({ self: "server", ends: {} }).serve(TestProtocol, testHandlers())
      const client = yield* net.meshTransport("client", ["server"])
      yield* net.enable("client->server", false)
      const call = yield* Effect.fork(Effect.either(client.call("server", new Echo({ text: "x" }))))
      yield* TestClock.adjust("0 millis")
      expect(yield* Fiber.poll(call)).toEqual(expect.objectContaining({ _tag: "None" }))
      yield* TestClock.adjust("100 millis")
      const result = yield* Fiber.join(call)
      expect(Either.isLeft(result)).toBe(true)
      // A per-call timeout on a slow handler fires exactly at the virtual deadline.
      yield* net.enable("client->server", true)
      const slow = yield* Effect.fork(Effect.either(client.call("server", new Sleep({ ms: 5000 }), { timeout: "1 second" })))
      yield* TestClock.adjust("999 millis")
      expect((yield* Fiber.poll(slow))._tag).toBe("None")
      yield* TestClock.adjust("1 millis")
      const timedOut = yield* Fiber.join(slow)
      expect(Either.isLeft(timedOut) && timedOut.left).toMatchObject({ reason: "Timeout" })
    })))
})

describe("Simulation livelock detection", () => {
  it("a fiber that spins without letting time advance is reported, not hung on", async () => {
    const { exit } = await Simulation.run(
      Effect.gen(function*() {
        yield* Effect.sleep("1 second")
        for (;;) yield* Effect.yieldNow()
      }),
      { seed: 1 }
    )
    expect(String(Exit.isFailure(exit) && exit.cause)).toContain("livelocked at t=1000ms")
  }, 60_000)

  it("a loop of zero-length sleeps is a livelock too", async () => {
    const { exit } = await Simulation.run(Effect.forever(Effect.sleep("0 millis")), { seed: 1 })
    expect(String(Exit.isFailure(exit) && exit.cause)).toContain("livelocked at t=0ms")
  }, 60_000)
})
