/**
 * A three-node key/value cluster under Effect's TestClock: nothing happens until the test moves the
 * clock past the election timeout; then one node leads, and a `KvClient` writes and reads through it.
 *
 * `it.effect` / `it.scoped` of @effect/vitest run the test with the TestClock: time stands still
 * unless the test calls `TestClock.adjust`. The nodes use `RaftConfig.defaults`: each draws its
 * election timeout from [500, 1000) ms and campaigns when it expires.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, TestClock } from "effect"
import { KvClient, SimCluster } from "concord-dist"

describe("electing a leader under the TestClock", () => {
  it.scoped("no leader before the election timeout, one after it; KvClient writes and reads", () =>
    Effect.gen(function*() {
      const cluster = yield* SimCluster.make({ nodes: 3, kv: true })

      // Just before the earliest election timeout: no node has campaigned, not one RPC was sent.
      yield* TestClock.adjust("499 millis")
      expect(yield* cluster.leader).toEqual(Option.none())
      expect((yield* cluster.rpcs).total).toBe(0)

      // Past the latest election timeout (with no network latency an election takes no time at all).
      yield* TestClock.adjust("501 millis")
      const leader = yield* cluster.leader
      expect(Option.isSome(leader)).toBe(true)
      expect((yield* cluster.rpcs).byType["RequestVote"]).toBeGreaterThan(0)

      // Every node agrees on the leader and its term.
      const statuses = yield* Effect.forEach(cluster.ids, (id) => Option.getOrThrow(cluster.raft(id)).status)
      expect(statuses.filter((s) => s.role === "Leader").map((s) => s.id)).toEqual([Option.getOrThrow(leader)])
      expect(new Set(statuses.map((s) => s.term)).size).toBe(1)

      // A healthy cluster answers without any time passing: no adjust needed.
      const client = yield* cluster.client()
      yield* client.put("greeting", "hello")
      yield* client.append("greeting", ", world")
      expect(yield* client.get("greeting")).toBe("hello, world")
      expect((yield* cluster.history).length).toBe(3)
      yield* cluster.checkLinearizable()
    }))

  // The same cluster as a Layer: the test asks for `SimCluster.SimCluster` and a ready `KvClient`.
  it.scoped("SimCluster.layer provides the cluster and a recorded KvClient", () =>
    Effect.gen(function*() {
      const cluster = yield* SimCluster.SimCluster
      const client = yield* KvClient.KvClient
      // awaitLeader moves the TestClock itself, a heartbeat at a time, until a node leads.
      const leader = yield* cluster.awaitLeader()
      expect(cluster.ids).toContain(leader)
      yield* client.put("k", "v")
      expect(yield* client.get("k")).toBe("v")
      yield* cluster.checkLinearizable()
    }).pipe(Effect.provide(SimCluster.layer({ nodes: 5 }))))
})
