/**
 * Partition the leader away under Effect's TestClock: the majority elects a new leader once the clock
 * passes the election timeout, and a write sent through the old leader never completes: the client's
 * own `timeout` fires, exactly when the clock reaches it. After the partition heals, the old leader's
 * uncommitted entry is gone and the majority's writes are what everyone reads.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber, Option, TestClock } from "effect"
import { SimCluster } from "concord-dist"

describe("a partitioned leader under the TestClock", () => {
  it.scoped("the majority elects a new leader; a write through the old one times out and is lost", () =>
    Effect.gen(function*() {
      const cluster = yield* SimCluster.make({ nodes: 3, kv: true })
      const old = yield* cluster.awaitLeader()
      const writer = yield* cluster.client()
      yield* writer.put("x", "1")

      // A client that knows only the old leader, cut off together with it. (`writer` is in no group:
      // it keeps its links to every node.)
      const stuck = yield* cluster.client({ name: "stuck", servers: [old] })
      const majority = cluster.ids.filter((id) => id !== old)
      yield* cluster.partition([[old, "stuck"], majority])
      const write = yield* Effect.fork(Effect.either(stuck.put("x", "lost", { timeout: "2 seconds" })))

      // Past the election timeout (at most 2 × 500 ms) and a round of votes: the majority has a leader
      // of a higher term, and the old leader stepped down (CheckQuorum: no majority for 500 ms).
      yield* TestClock.adjust("1500 millis")
      const next = Option.getOrThrow(yield* cluster.leader)
      expect(majority).toContain(next)
      const oldStatus = yield* Option.getOrThrow(cluster.raft(old)).status
      const nextStatus = yield* Option.getOrThrow(cluster.raft(next)).status
      expect(nextStatus.term).toBeGreaterThan(oldStatus.term)
      expect(oldStatus.role).not.toBe("Leader")

      // The write through the old leader is still waiting, up to the last millisecond of its timeout.
      yield* TestClock.adjust("499 millis")
      expect(Option.isNone(yield* Fiber.poll(write))).toBe(true)
      yield* TestClock.adjust("1 millis")
      const result = yield* Fiber.join(write)
      expect(Either.isLeft(result) && result.left._tag).toBe("KvTimeout")

      // The majority serves meanwhile; after the heal the old leader follows it and drops "lost".
      yield* writer.put("x", "2")
      yield* cluster.heal
      yield* TestClock.adjust("300 millis") // a few heartbeats
      expect(yield* writer.get("x")).toBe("2")
      const oldNow = yield* Option.getOrThrow(cluster.raft(old)).status
      expect(oldNow.leader).toBe(next)
      expect(oldNow.commit).toBe(nextStatus.commit + 1) // the put of "2", nothing of "lost"

      // The timed-out write stays in the history as pending: it might have taken effect (it did not).
      const history = yield* cluster.history
      expect(history.filter((op) => op.return === undefined).map((op) => op.input)).toEqual([
        { op: "put", key: "x", value: "lost" }
      ])
      yield* cluster.checkLinearizable()
    }))
})
