/** 6.824 Lab 2D: log compaction (SPEC-6824 §2.3, the final 2022 version of snapcommon). */
import { Effect, Random } from "effect"
import { describe, expect } from "vitest"
import { type Harness, raftTest } from "../support/RaftHarness.js"

const MAXLOGSIZE = 2000
const randInt = Random.nextIntBetween(0, 2 ** 31 - 1)

const snapcommon = (cfg: Harness, disconnect: boolean, crash: boolean) =>
  Effect.gen(function*() {
    const iters = 30
    yield* cfg.one(yield* randInt, cfg.n, true)
    let leader1 = yield* cfg.checkOneLeader
    for (let i = 0; i < iters; i++) {
      let victim = (leader1 + 1) % cfg.n
      let sender = leader1
      if (i % 3 === 1) {
        sender = (leader1 + 1) % cfg.n
        victim = leader1
      }
      if (disconnect) {
        yield* cfg.disconnect(victim)
        yield* cfg.one(yield* randInt, cfg.n - 1, true)
      }
      if (crash) {
        yield* cfg.crash1(victim)
        yield* cfg.one(yield* randInt, cfg.n - 1, true)
      }
      // Perhaps send enough to get a snapshot.
      const nn = Math.floor(10 / 2) + (yield* Random.nextIntBetween(0, 10))
      for (let k = 0; k < nn; k++) yield* cfg.start(sender, yield* randInt)
      // Let the applier threads catch up with the Start()'s.
      if (!disconnect && !crash) {
        // Make sure all followers have caught up, so that an InstallSnapshot RPC isn't required for TestSnapshotBasic2D().
        yield* cfg.one(yield* randInt, cfg.n, true)
      } else {
        yield* cfg.one(yield* randInt, cfg.n - 1, true)
      }
      const size = yield* cfg.logSize
      expect(size, `log size too large: ${size}`).toBeLessThan(MAXLOGSIZE)
      if (disconnect) {
        // Reconnect a follower, who maybe behind and needs to receive a snapshot to catch up.
        yield* cfg.connect(victim)
        yield* cfg.one(yield* randInt, cfg.n, true)
        leader1 = yield* cfg.checkOneLeader
      }
      if (crash) {
        yield* cfg.start1(victim, true)
        yield* cfg.connect(victim)
        yield* cfg.one(yield* randInt, cfg.n, true)
        leader1 = yield* cfg.checkOneLeader
      }
    }
  })

describe("Raft 2D: snapshots", () => {
  raftTest("SnapshotBasic2D", { n: 3, snapshot: true }, (cfg) => snapcommon(cfg, false, false))
  raftTest("SnapshotInstall2D", { n: 3, snapshot: true }, (cfg) => snapcommon(cfg, true, false))
  raftTest("SnapshotInstallUnreliable2D", { n: 3, snapshot: true, unreliable: true }, (cfg) => snapcommon(cfg, true, false))
  raftTest("SnapshotInstallCrash2D", { n: 3, snapshot: true }, (cfg) => snapcommon(cfg, false, true))
  raftTest("SnapshotInstallUnCrash2D", { n: 3, snapshot: true, unreliable: true }, (cfg) => snapcommon(cfg, false, true))

  raftTest("SnapshotAllCrash2D", { n: 3, snapshot: true }, (cfg) =>
    Effect.gen(function*() {
      // Crash and restart all servers: the snapshot and the log tail must both survive.
      yield* cfg.one(yield* randInt, cfg.n, true)
      for (let i = 0; i < 5; i++) {
        // Perhaps enough to get a snapshot.
        const nn = Math.floor(10 / 2) + (yield* Random.nextIntBetween(0, 10))
        for (let k = 0; k < nn; k++) yield* cfg.one(yield* randInt, cfg.n, true)
        const index1 = yield* cfg.one(yield* randInt, cfg.n, true)
        // Crash all.
        for (let j = 0; j < cfg.n; j++) yield* cfg.crash1(j)
        // Revive all.
        for (let j = 0; j < cfg.n; j++) {
          yield* cfg.start1(j, true)
          yield* cfg.connect(j)
        }
        const index2 = yield* cfg.one(yield* randInt, cfg.n, true)
        expect(index2, `index decreased from ${index1} to ${index2}`).toBeGreaterThanOrEqual(index1 + 1)
      }
    }))
})
