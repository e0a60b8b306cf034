/** 6.824 Lab 2A: leader election (SPEC-6824 §2.3). */
import { Effect, Random } from "effect"
import { describe, expect } from "vitest"
import { ET, raftTest } from "../support/RaftHarness.js"

describe("Raft 2A: election", () => {
  raftTest("InitialElection2A", { n: 3 }, (cfg) =>
    Effect.gen(function*() {
      yield* cfg.checkOneLeader
      // Everyone agrees on the term, which is at least 1.
      yield* Effect.sleep("50 millis")
      const term1 = yield* cfg.checkTerms
      expect(term1).toBeGreaterThanOrEqual(1)
      // Without failures the leader keeps its term (the original only warns when it changes).
      yield* Effect.sleep(`${2 * ET} millis`)
      const term2 = yield* cfg.checkTerms
      expect(term2).toBe(term1)
      yield* cfg.checkOneLeader
    }))

  raftTest("ReElection2A", { n: 3 }, (cfg) =>
    Effect.gen(function*() {
      const leader1 = yield* cfg.checkOneLeader
      // If the leader disconnects, a new one is elected.
      yield* cfg.disconnect(leader1)
      yield* cfg.checkOneLeader
      // The old leader rejoining must not disturb the new one.
      yield* cfg.connect(leader1)
      const leader2 = yield* cfg.checkOneLeader
      // Without a quorum there is no leader.
      yield* cfg.disconnect(leader2)
      yield* cfg.disconnect((leader2 + 1) % 3)
      yield* Effect.sleep(`${2 * ET} millis`)
      yield* cfg.checkNoLeader
      // A quorum arises: a leader is elected.
      yield* cfg.connect((leader2 + 1) % 3)
      yield* cfg.checkOneLeader
      // Rejoining the last node does not prevent one leader.
      yield* cfg.connect(leader2)
      yield* cfg.checkOneLeader
    }))

  raftTest("ManyElections2A", { n: 7 }, (cfg) =>
    Effect.gen(function*() {
      yield* cfg.checkOneLeader
      for (let ii = 1; ii < 10; ii++) {
        // Disconnect three random nodes (possibly the same one twice).
        const i1 = yield* Random.nextIntBetween(0, 7)
        const i2 = yield* Random.nextIntBetween(0, 7)
        const i3 = yield* Random.nextIntBetween(0, 7)
        yield* cfg.disconnect(i1)
        yield* cfg.disconnect(i2)
        yield* cfg.disconnect(i3)
        // Either the current leader remains, or the remaining four elect one.
        yield* cfg.checkOneLeader
        yield* cfg.connect(i1)
        yield* cfg.connect(i2)
        yield* cfg.connect(i3)
      }
      yield* cfg.checkOneLeader
    }))
})
