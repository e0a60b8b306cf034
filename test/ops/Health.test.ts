/** `/health`'s verdicts, on a stand-in Raft node under Effect's TestClock (no real time passes). */
import { it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { describe, expect } from "vitest"
import type { RaftShape, Status } from "../../src/raft/Raft.js"
import * as Health from "../../src/ops/Health.js"

const node = () => {
  let status: Status = {
    id: "n1", term: 2, role: "Follower", leader: "n2", vote: null, commit: 10, applied: 10, firstIndex: 1, lastIndex: 10, lastTerm: 2, snapshotIndex: 0
  }
  let applied = 10
  return {
    raft: { status: Effect.sync(() => status) } as unknown as RaftShape,
    applied: Effect.sync(() => applied),
    set: (s: Partial<Status>, a?: number) => {
      status = { ...status, ...s }
      if (a !== undefined) applied = a
    }
  }
}

describe("Health", () => {
  it.scoped("healthy while a leader is known and applying keeps up; a stall past stallMs or no leader is 503 with why", () =>
    Effect.gen(function*() {
      const n = node()
      const health = yield* Health.make(n.raft, n.applied, { stallMs: 5000, sampleMs: 250 })
      expect(yield* health.check).toMatchObject({ healthy: true, reason: "", leader: "n2", applied: 10 })
      // Behind the commit index but moving: healthy.
      n.set({ commit: 500 }, 20)
      for (let a = 20; a < 200; a += 20) {
        n.set({}, a)
        yield* TestClock.adjust("1 second")
        expect((yield* health.check).healthy).toBe(true)
      }
      // Stuck behind it (it last moved within the last second): healthy until stallMs passes, then 503.
      yield* TestClock.adjust("4 seconds")
      expect((yield* health.check).healthy).toBe(true)
      yield* TestClock.adjust("2 seconds")
      const stalled = yield* health.check
      expect(stalled.healthy).toBe(false)
      expect(stalled.reason).toMatch(/^applied index 180 has not moved for [56]\.\d s while the commit index is 500$/)
      // Caught up: healthy at once.
      n.set({}, 500)
      expect(yield* health.check).toMatchObject({ healthy: true, reason: "" })
      // No leader: 503 whatever the indices.
      n.set({ leader: null, role: "PreCandidate", term: 3 })
      expect(yield* health.check).toMatchObject({
        healthy: false,
        reason: "no leader: this node is PreCandidate in term 3 and has not heard from a leader with a majority"
      })
    }))
})
