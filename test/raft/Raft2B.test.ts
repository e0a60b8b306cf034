/** 6.824 Lab 2B: log replication (SPEC-6824 §2.3). Limits as in the original, in simulated time. */
import { Effect, Random } from "effect"
import { describe, expect } from "vitest"
import { type Command, ET, raftTest } from "../support/RaftHarness.js"

const randInt = Random.nextIntBetween(0, 2 ** 31 - 1)
const randString = (length: number) =>
  Effect.gen(function*() {
    let s = ""
    for (let i = 0; i < length; i++) s += String.fromCharCode(97 + (yield* Random.nextIntBetween(0, 26)))
    return s
  })

describe("Raft 2B: agreement", () => {
  raftTest("BasicAgree2B", { n: 3 }, (cfg) =>
    Effect.gen(function*() {
      for (let index = 1; index < 4; index++) {
        const [nd] = yield* cfg.nCommitted(index)
        expect(nd, "some have committed before Start()").toBe(0)
        const xindex = yield* cfg.one(index * 100, 3, false)
        expect(xindex).toBe(index)
      }
    }))

  raftTest("RPCBytes2B", { n: 3 }, (cfg) =>
    Effect.gen(function*() {
      // Each command is sent to each peer just once: bytes ≤ 3 × payload + 50 000 (no scaling needed).
      yield* cfg.one(99, 3, false)
      const bytes0 = yield* cfg.net.totalBytes
      let sent = 0
      for (let index = 2; index < 12; index++) {
        const cmd = yield* randString(5000)
        const xindex = yield* cfg.one(cmd, 3, false)
        expect(xindex).toBe(index)
        sent += cmd.length
      }
      const got = (yield* cfg.net.totalBytes) - bytes0
      expect(got, `too many RPC bytes; got ${got}, expected ${3 * sent + 50_000} at most`).toBeLessThanOrEqual(3 * sent + 50_000)
    }))

  raftTest("FailAgree2B", { n: 3 }, (cfg) =>
    Effect.gen(function*() {
      yield* cfg.one(101, 3, false)
      // Disconnect one follower: the other two still agree.
      const leader = yield* cfg.checkOneLeader
      yield* cfg.disconnect((leader + 1) % 3)
      yield* cfg.one(102, 2, false)
      yield* cfg.one(103, 2, false)
      yield* Effect.sleep(`${ET} millis`)
      yield* cfg.one(104, 2, false)
      yield* cfg.one(105, 2, false)
      // The follower reconnects and catches up.
      yield* cfg.connect((leader + 1) % 3)
      yield* cfg.one(106, 3, true)
      yield* Effect.sleep(`${ET} millis`)
      yield* cfg.one(107, 3, true)
    }))

  raftTest("FailNoAgree2B", { n: 5 }, (cfg) =>
    Effect.gen(function*() {
      yield* cfg.one(10, 5, false)
      // Three of five followers disconnect: nothing commits.
      const leader = yield* cfg.checkOneLeader
      yield* cfg.disconnect((leader + 1) % 5)
      yield* cfg.disconnect((leader + 2) % 5)
      yield* cfg.disconnect((leader + 3) % 5)
      const r = yield* cfg.start(leader, 20)
      expect(r.ok, "leader rejected Start()").toBe(true)
      expect(r.index).toBe(2)
      yield* Effect.sleep(`${2 * ET} millis`)
      const [n] = yield* cfg.nCommitted(r.index)
      expect(n, `${n} committed but no majority`).toBe(0)
      // Repair.
      yield* cfg.connect((leader + 1) % 5)
      yield* cfg.connect((leader + 2) % 5)
      yield* cfg.connect((leader + 3) % 5)
      // The disconnected majority may have chosen a leader from among their own ranks, forgetting index 2.
      const leader2 = yield* cfg.checkOneLeader
      const r2 = yield* cfg.start(leader2, 30)
      expect(r2.ok, "leader2 rejected Start()").toBe(true)
      expect(r2.index >= 2 && r2.index <= 3, `unexpected index ${r2.index}`).toBe(true)
      yield* cfg.one(1000, 5, true)
    }))

  raftTest("ConcurrentStarts2B", { n: 3 }, (cfg) =>
    Effect.gen(function*() {
      let success = false
      for (let attempt = 0; attempt < 5 && !success; attempt++) {
        if (attempt > 0) yield* Effect.sleep("3 seconds") // give the election a chance to settle
        const leader = yield* cfg.checkOneLeader
        const first = yield* cfg.start(leader, 1)
        if (!first.ok) continue // leader moved on really quickly
        const term = first.term
        const started = yield* Effect.forEach(
          [0, 1, 2, 3, 4],
          (ii) => cfg.start(leader, 100 + ii),
          { concurrency: "unbounded" }
        )
        const indices = started.filter((r) => r.ok && r.term === term).map((r) => r.index)
        let termChanged = false
        for (let j = 0; j < 3; j++) if ((yield* cfg.getState(j)).term !== term) termChanged = true
        if (termChanged) continue // term changed: can't expect low RPC counts
        let failed = false
        const cmds: Array<Command> = []
        for (const index of indices) {
          const cmd = yield* cfg.wait(index, 3, term)
          if (cmd === -1) {
            failed = true // peers have moved on to later terms, so we can't expect all Start()s to work
            break
          }
          cmds.push(cmd)
        }
        if (failed) continue
        for (let ii = 0; ii < 5; ii++) expect(cmds, `cmd ${100 + ii} missing`).toContain(100 + ii)
        success = true
      }
      expect(success, "term changed too often").toBe(true)
    }))

  raftTest("Rejoin2B", { n: 3 }, (cfg) =>
    Effect.gen(function*() {
      yield* cfg.one(101, 3, true)
      // The leader is partitioned away and accepts entries that never commit.
      const leader1 = yield* cfg.checkOneLeader
      yield* cfg.disconnect(leader1)
      yield* cfg.start(leader1, 102)
      yield* cfg.start(leader1, 103)
      yield* cfg.start(leader1, 104)
      // The new leader commits, also at index 2.
      yield* cfg.one(103, 2, true)
      // The new leader is partitioned; the old one comes back.
      const leader2 = yield* cfg.checkOneLeader
      yield* cfg.disconnect(leader2)
      yield* cfg.connect(leader1)
      yield* cfg.one(104, 2, true)
      // Everyone back.
      yield* cfg.connect(leader2)
      yield* cfg.one(105, 3, true)
    }))

  raftTest("Backup2B", { n: 5 }, (cfg) =>
    Effect.gen(function*() {
      yield* cfg.one(yield* randInt, 5, true)
      // The leader and one follower are put in a partition, and get entries that never commit.
      const leader1 = yield* cfg.checkOneLeader
      yield* cfg.disconnect((leader1 + 2) % 5)
      yield* cfg.disconnect((leader1 + 3) % 5)
      yield* cfg.disconnect((leader1 + 4) % 5)
      for (let i = 0; i < 50; i++) yield* cfg.start(leader1, yield* randInt)
      yield* Effect.sleep(`${ET / 2} millis`)
      yield* cfg.disconnect((leader1 + 0) % 5)
      yield* cfg.disconnect((leader1 + 1) % 5)
      // The other partition commits a lot.
      yield* cfg.connect((leader1 + 2) % 5)
      yield* cfg.connect((leader1 + 3) % 5)
      yield* cfg.connect((leader1 + 4) % 5)
      for (let i = 0; i < 50; i++) yield* cfg.one(yield* randInt, 3, true)
      // Now another partitioned leader and one follower.
      const leader2 = yield* cfg.checkOneLeader
      let other = (leader1 + 2) % 5
      if (leader2 === other) other = (leader2 + 1) % 5
      yield* cfg.disconnect(other)
      // Lots more commands that won't commit.
      for (let i = 0; i < 50; i++) yield* cfg.start(leader2, yield* randInt)
      yield* Effect.sleep(`${ET / 2} millis`)
      // Bring the original leader back to life.
      for (let i = 0; i < 5; i++) yield* cfg.disconnect(i)
      yield* cfg.connect((leader1 + 0) % 5)
      yield* cfg.connect((leader1 + 1) % 5)
      yield* cfg.connect(other)
      // Lots of successful commands to the new group.
      for (let i = 0; i < 50; i++) yield* cfg.one(yield* randInt, 3, true)
      // Now everyone.
      for (let i = 0; i < 5; i++) yield* cfg.connect(i)
      yield* cfg.one(yield* randInt, 5, true)
    }))

  raftTest("Count2B", { n: 3 }, (cfg) =>
    Effect.gen(function*() {
      const rpcs = () => cfg.rpcTotal
      yield* cfg.checkOneLeader
      let total1 = yield* rpcs()
      expect(total1 > 30 || total1 < 1, `too many or few RPCs (${total1}) to elect initial leader`).toBe(false)

      let total2 = 0
      let success = false
      for (let attempt = 0; attempt < 5 && !success; attempt++) {
        if (attempt > 0) yield* Effect.sleep("3 seconds") // give the election a chance to settle
        const leader = yield* cfg.checkOneLeader
        total1 = yield* rpcs()
        const iters = 10
        const first = yield* cfg.start(leader, 1)
        if (!first.ok) continue // leader moved on really quickly
        const term = first.term
        const cmds: Array<number> = []
        let moved = false
        for (let i = 1; i < iters + 2; i++) {
          const x = yield* randInt
          cmds.push(x)
          const r = yield* cfg.start(leader, x)
          if (r.term !== term) {
            moved = true // term changed while starting
            break
          }
          if (!r.ok) {
            moved = true // no longer the leader, so the term has changed
            break
          }
          expect(r.index, "Start() failed").toBe(first.index + i)
        }
        if (moved) continue
        for (let i = 1; i < iters + 1; i++) {
          const cmd = yield* cfg.wait(first.index + i, 3, term)
          if (cmd !== cmds[i - 1]) {
            if (cmd === -1) {
              moved = true // term changed: try again
              break
            }
            expect.fail(`wrong value ${cmd} committed for index ${first.index + i}; expected ${cmds[i - 1]}`)
          }
        }
        if (moved) continue
        let failed = false
        total2 = 0
        for (let j = 0; j < 3; j++) {
          if ((yield* cfg.getState(j)).term !== term) failed = true // term changed: can't expect low RPC counts
          total2 += yield* cfg.rpcCount(j)
        }
        if (failed) continue
        expect(total2 - total1, `too many RPCs (${total2 - total1}) for ${iters} entries`).toBeLessThanOrEqual((iters + 1 + 3) * 3)
        success = true
      }
      expect(success, "term changed too often").toBe(true)

      yield* Effect.sleep(`${ET} millis`)
      let total3 = 0
      for (let j = 0; j < 3; j++) total3 += yield* cfg.rpcCount(j)
      expect(total3 - total2, `too many RPCs (${total3 - total2}) for 1 second of idleness`).toBeLessThanOrEqual(3 * 20)
    }))
})


