/**
 * The election and partition scenarios under Concord's Simulation kernel instead of the TestClock.
 * Time jumps to the next timer whenever every fiber waits, so the test just waits (`Effect.sleep`, or
 * an operation with a timeout) and never moves a clock; and `Random` is seeded, so a run is a function
 * of its seed. `SimCluster.simulate` draws a fresh seed per run, names it when the run fails, and
 * `SEED=<n> npx vitest run <this file>` replays that run exactly.
 *
 * Plain `it` from @effect/vitest (not `it.effect`): the kernel brings its own clock.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Either, Option } from "effect"
import { SimCluster } from "concord-dist"

/** Elects a leader, writes through it, partitions it away; returns what a replay must reproduce. */
const scenario = Effect.gen(function*() {
  // A little latency: without any, a client's requests all fall into one simulated instant.
  const cluster = yield* SimCluster.make({ nodes: 3, kv: true, latencyMs: [1, 5] })

  yield* Effect.sleep("499 millis")
  expect(yield* cluster.leader).toEqual(Option.none())
  expect((yield* cluster.rpcs).total).toBe(0)

  const leader = yield* cluster.awaitLeader()
  const electedAt = yield* Clock.currentTimeMillis
  expect(electedAt).toBeGreaterThanOrEqual(500)
  const client = yield* cluster.client()
  yield* client.put("greeting", "hello")
  expect(yield* client.get("greeting")).toBe("hello")

  // Cut the leader off with a client that knows only it: that client's write simply times out.
  const stuck = yield* cluster.client({ name: "stuck", servers: [leader] })
  const majority = cluster.ids.filter((id) => id !== leader)
  yield* cluster.partition([[leader, "stuck"], majority])
  const lost = yield* Effect.either(stuck.put("greeting", "lost", { timeout: "2 seconds" }))
  expect(Either.isLeft(lost) && lost.left._tag).toBe("KvTimeout")
  const next = yield* cluster.awaitLeader({ among: majority })
  yield* client.put("greeting", "hi")
  yield* cluster.heal
  yield* Effect.sleep("500 millis")
  expect(yield* client.get("greeting")).toBe("hi")
  yield* cluster.checkLinearizable()
  return { leader, electedAt, next, rpcs: (yield* cluster.rpcs).total }
})

describe("the same scenarios under the Simulation kernel", () => {
  it("elects, serves, loses the partitioned write (a fresh seed per run; SEED=<n> replays one)", async () => {
    const { value, stats } = await SimCluster.simulate(scenario, { timeLimit: "60 seconds" })
    expect(value.next).not.toBe(value.leader)
    expect(stats.simulatedMs).toBeGreaterThan(2_000)
  })

  it("one seed, one run: the same seed replays it exactly", async () => {
    const first = await SimCluster.simulate(scenario, { seed: 42 })
    const again = await SimCluster.simulate(scenario, { seed: 42 })
    expect(again.value).toEqual(first.value)
    expect(again.stats.timersFired).toBe(first.stats.timersFired)
    expect(again.stats.simulatedMs).toBe(first.stats.simulatedMs)
  })
})
