/**
 * Shard moves in your own test: a controller and two replica groups (`SimShards`), under the
 * Simulation kernel, where time moves by itself while groups poll the controller and pull shards.
 * Group 100 joins and takes every shard; group 101 joins and takes half of them; group 100 leaves and
 * hands the rest over; then all of group 100's servers crash. Every key stays readable throughout,
 * with the value last written, and the recorded history is linearizable.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { SimCluster, SimShards } from "concord-dist"

const keys = Array.from({ length: 10 }, (_, i) => `user:${i}`)

const scenario = Effect.gen(function*() {
  const shards = yield* SimShards.make({ groups: [100, 101], latencyMs: [1, 5] })
  const client = yield* shards.client()
  const readAll = Effect.forEach(keys, (key) => client.get(key))

  const first = yield* shards.join(100)
  expect(new Set(first.shards)).toEqual(new Set([100]))
  for (const key of keys) yield* client.put(key, `${key}=a`)

  // Group 101 joins: half the shards move to it; the keys are readable while they move, and after.
  const second = yield* shards.join(101)
  expect(second.shards.filter((gid) => gid === 101).length).toBe(second.shards.length / 2)
  expect(yield* readAll).toEqual(keys.map((key) => `${key}=a`))
  yield* shards.awaitConfig(second.num)
  for (const key of keys) yield* client.append(key, "b")

  // Group 100 leaves: 101 takes every shard, data and duplicate tables included.
  const third = yield* shards.leave(100)
  expect(new Set(third.shards)).toEqual(new Set([101]))
  yield* shards.awaitConfig(third.num)
  for (const server of shards.servers(100)) yield* shards.crash(server)
  expect(yield* readAll).toEqual(keys.map((key) => `${key}=ab`))

  yield* shards.checkLinearizable()
})

describe("shard moves under the Simulation kernel", () => {
  it("keys stay readable while groups join and leave (SEED=<n> replays a run)", async () => {
    await SimCluster.simulate(scenario, { timeLimit: "60 seconds" })
  })
})
