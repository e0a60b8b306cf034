/**
 * What Concord's Raft does beyond the 6.824 labs, each with a test that fails without it:
 * PreVote, CheckQuorum, ReadIndex, batching, pipelining, commit on proposal, leadership transfer.
 * All in seeded simulations on the 6.824 harness (with its continuous invariant checks).
 */
import { Clock, Effect, Either, Fiber } from "effect"
import { describe, expect } from "vitest"
import { encodeCommand, type Harness, raftTest } from "../support/RaftHarness.js"

const ELECTION = 300 // the harness's electionTimeoutMs
const HEARTBEAT = 100

const status = (cfg: Harness, i: number) => cfg.nodes[i]!.raft.status
const sentOf = (cfg: Harness, tag: string) => cfg.sent.get(tag) ?? 0

/** Polls (every ms of simulated time) until `cond` holds; returns the simulated ms it took. */
const until = (cond: Effect.Effect<boolean>, limitMs: number) =>
  Effect.gen(function*() {
    const t0 = yield* Clock.currentTimeMillis
    while (!(yield* cond)) {
      if ((yield* Clock.currentTimeMillis) - t0 > limitMs) return Infinity
      yield* Effect.sleep("1 millis")
    }
    return (yield* Clock.currentTimeMillis) - t0
  })

const committedOn = (cfg: Harness, i: number, index: number) =>
  Effect.map(status(cfg, i), (s) => s.commit >= index && s.applied >= index)

describe("PreVote", () => {
  raftTest("a partitioned follower does not bump its term, and rejoining does not depose the leader", { n: 3 }, (cfg) =>
    Effect.gen(function*() {
      const leader = yield* cfg.checkOneLeader
      const term = (yield* status(cfg, leader)).term
      const f = (leader + 1) % 3
      yield* cfg.disconnect(f)
      yield* Effect.sleep("5 seconds") // many election timeouts: pre-votes fail, the real term stays
      expect((yield* status(cfg, f)).term).toBe(term)
      yield* cfg.connect(f)
      yield* Effect.sleep("2 seconds")
      const after = yield* status(cfg, leader)
      expect(after.role).toBe("Leader")
      expect(after.term).toBe(term)
    }))

  raftTest(
    "without PreVote and CheckQuorum the same rejoin forces an election (the disruption PreVote prevents)",
    { n: 3, raft: { preVote: false, checkQuorum: false } },
    (cfg) =>
      Effect.gen(function*() {
        const leader = yield* cfg.checkOneLeader
        const term = (yield* status(cfg, leader)).term
        const f = (leader + 1) % 3
        yield* cfg.disconnect(f)
        yield* Effect.sleep("5 seconds")
        expect((yield* status(cfg, f)).term).toBeGreaterThan(term + 3)
        yield* cfg.connect(f)
        yield* Effect.sleep("2 seconds")
        yield* cfg.checkOneLeader
        expect((yield* cfg.checkTerms)).toBeGreaterThan(term)
      })
  )
})

describe("CheckQuorum", () => {
  raftTest("a leader cut off from its majority steps down within an election timeout (+1 heartbeat)", { n: 5 }, (cfg) =>
    Effect.gen(function*() {
      const leader = yield* cfg.checkOneLeader
      yield* cfg.disconnect(leader)
      const took = yield* until(Effect.map(status(cfg, leader), (s) => s.role !== "Leader"), 10_000)
      expect(took).toBeLessThanOrEqual(ELECTION + HEARTBEAT)
    }))

  raftTest("without CheckQuorum an isolated leader believes it leads indefinitely", { n: 3, raft: { checkQuorum: false } }, (cfg) =>
    Effect.gen(function*() {
      const leader = yield* cfg.checkOneLeader
      yield* cfg.disconnect(leader)
      yield* Effect.sleep("5 seconds")
      expect((yield* status(cfg, leader)).role).toBe("Leader")
    }))
})

describe("ReadIndex", () => {
  const withNoop = { n: 3, raft: { leaderNoop: true } } as const

  raftTest("returns a read point at least the last committed write, without writing to the log", withNoop, (cfg) =>
    Effect.gen(function*() {
      const leader = yield* cfg.checkOneLeader
      const raft = cfg.nodes[leader]!.raft
      const { index } = yield* raft.propose(encodeCommand(42))
      yield* until(committedOn(cfg, leader, index), 1000)
      const before = yield* status(cfg, leader)
      const appends = sentOf(cfg, "AppendEntries")
      const readPoint = yield* raft.readIndex
      expect(readPoint).toBeGreaterThanOrEqual(index)
      const after = yield* status(cfg, leader)
      expect(after.lastIndex).toBe(before.lastIndex)
      expect(sentOf(cfg, "AppendEntries")).toBe(appends)
    }))

  raftTest("concurrent reads share one heartbeat round", withNoop, (cfg) =>
    Effect.gen(function*() {
      const leader = yield* cfg.checkOneLeader
      yield* Effect.sleep("5 millis") // away from the periodic heartbeat
      const heartbeats = sentOf(cfg, "Heartbeat")
      const points = yield* Effect.forEach(Array.from({ length: 50 }), () => cfg.nodes[leader]!.raft.readIndex, {
        concurrency: "unbounded"
      })
      expect(points.length).toBe(50)
      expect(sentOf(cfg, "Heartbeat") - heartbeats).toBe(2) // one round to the two followers
    }))

  raftTest("a partitioned old leader never confirms a read; the new leader's reads see the new write", withNoop, (cfg) =>
    Effect.gen(function*() {
      const old = yield* cfg.checkOneLeader
      yield* cfg.disconnect(old)
      const staleRead = yield* Effect.fork(Effect.either(cfg.nodes[old]!.raft.readIndex))
      const leader = yield* cfg.checkOneLeader
      expect(leader).not.toBe(old)
      const index = yield* cfg.one(777, 2, true)
      const read = yield* Effect.either(cfg.nodes[old]!.raft.readIndex)
      const stale = yield* Fiber.join(staleRead)
      expect(Either.isLeft(stale) && stale.left._tag).toBe("NotLeader")
      expect(Either.isLeft(read) && read.left._tag).toBe("NotLeader")
      expect(yield* cfg.nodes[leader]!.raft.readIndex).toBeGreaterThanOrEqual(index)
    }))
})

describe("Batching, pipelining, commit on proposal", () => {
  raftTest("proposals made together leave in one AppendEntries per follower and one storage write", { n: 3 }, (cfg) =>
    Effect.gen(function*() {
      const leader = yield* cfg.checkOneLeader
      yield* cfg.one(1, 3, false)
      yield* Effect.sleep("5 millis")
      const appends = sentOf(cfg, "AppendEntries")
      const writes = [...cfg.storageWrites]
      // 100 clients propose in the same instant.
      const indices = yield* Effect.forEach(
        Array.from({ length: 100 }, (_, k) => k),
        (k) => Effect.map(cfg.nodes[leader]!.raft.propose(encodeCommand(1000 + k)), (r) => r.index),
        { concurrency: "unbounded" }
      )
      const last = Math.max(...indices)
      yield* Effect.sleep("1 millis")
      expect(sentOf(cfg, "AppendEntries") - appends).toBe(2)
      for (let i = 0; i < 3; i++) expect(cfg.storageWrites[i]! - writes[i]!, `storage writes of ${i}`).toBe(1)
      yield* cfg.wait(last, 3, -1)
    }))

  {
    // Followers' disks take 40 ms, the leader's is fast: the leader keeps several appends in flight to
    // each follower instead of waiting for each acknowledgement. (With its own disk as slow, a leader
    // is paced by its own writes, and the parallel write below is what overlaps them.)
    let leaderIndex = -1
    raftTest(
      "appends are pipelined to followers with slow disks",
      { n: 3, storageLatencyMs: (i) => (leaderIndex >= 0 && i !== leaderIndex ? 40 : 0) },
      (cfg) =>
        Effect.gen(function*() {
          const leader = yield* cfg.checkOneLeader
          leaderIndex = leader
          let maxInflight = 0
          let last = 0
          for (let k = 0; k < 40; k++) {
            last = (yield* cfg.nodes[leader]!.raft.propose(encodeCommand(k))).index
            for (const f of cfg.cores[leader]!.followers()) maxInflight = Math.max(maxInflight, f.inflight)
            yield* Effect.sleep("10 millis")
          }
          expect(maxInflight).toBeGreaterThanOrEqual(2)
          // Serialized round trips would need 40 × 40 ms; pipelined, the last entry commits soon after it is proposed.
          const took = yield* until(committedOn(cfg, leader, last), 5_000)
          expect(took).toBeLessThan(200)
          leaderIndex = -1
        })
    )
  }

  raftTest("a proposal commits without waiting for the next heartbeat", { n: 3 }, (cfg) =>
    Effect.gen(function*() {
      const leader = yield* cfg.checkOneLeader
      yield* Effect.sleep("5 millis") // just after a heartbeat: the next one is ~95 ms away
      const { index } = yield* cfg.nodes[leader]!.raft.propose(encodeCommand(5))
      const took = yield* until(committedOn(cfg, leader, index), 1000)
      expect(took).toBeLessThan(HEARTBEAT / 10)
    }))
})

describe("Leadership transfer", () => {
  raftTest("hands leadership to an up-to-date follower in the next term", { n: 3 }, (cfg) =>
    Effect.gen(function*() {
      const leader = yield* cfg.checkOneLeader
      yield* cfg.one(1, 3, false)
      const term = (yield* status(cfg, leader)).term
      const target = (leader + 1) % 3
      yield* cfg.nodes[leader]!.raft.transferLeadership(String(target))
      const took = yield* until(Effect.map(status(cfg, target), (s) => s.role === "Leader"), ELECTION)
      expect(took).toBeLessThan(ELECTION)
      expect((yield* status(cfg, target)).term).toBe(term + 1)
      expect((yield* status(cfg, leader)).role).toBe("Follower")
      yield* cfg.one(2, 3, false)
    }))

  raftTest("catches a lagging target up first; proposals are refused meanwhile with the target as hint", { n: 3 }, (cfg) =>
    Effect.gen(function*() {
      const leader = yield* cfg.checkOneLeader
      const target = (leader + 1) % 3
      yield* cfg.disconnect(target)
      for (let k = 0; k < 20; k++) yield* cfg.one(100 + k, 2, false)
      // The target is unreachable: the transfer waits, refusing proposals, then gives up after a timeout.
      yield* cfg.nodes[leader]!.raft.transferLeadership(String(target))
      const refused = yield* Effect.either(cfg.nodes[leader]!.raft.propose(encodeCommand(1)))
      expect(Either.isLeft(refused) && refused.left._tag === "NotLeader" && refused.left.leaderHint).toBe(String(target))
      yield* Effect.sleep(`${ELECTION + HEARTBEAT} millis`)
      expect(Either.isRight(yield* Effect.either(cfg.nodes[leader]!.raft.propose(encodeCommand(2))))).toBe(true)
      // Reconnected, it catches up and takes over, with every committed entry (leader completeness is checked).
      yield* cfg.connect(target)
      yield* cfg.nodes[leader]!.raft.transferLeadership(String(target))
      const took = yield* until(Effect.map(status(cfg, target), (s) => s.role === "Leader"), 2 * ELECTION)
      expect(took).toBeLessThan(2 * ELECTION)
      yield* cfg.one(3, 3, true)
    }))
})

describe("A leader writes its log in parallel with replicating it (thesis §10.2.1)", () => {
  let slow = -1
  const options = { n: 3, storageLatencyMs: (i: number) => (i === slow ? 100 : 0) }

  raftTest("with a slow leader disk, entries commit through the followers before the leader's write ends", options, (cfg) =>
    Effect.gen(function*() {
      const leader = yield* cfg.checkOneLeader
      slow = leader
      const { index } = yield* cfg.nodes[leader]!.raft.propose(encodeCommand(7))
      const took = yield* until(Effect.map(status(cfg, leader), (s) => s.commit >= index), 1000)
      expect(took).toBeLessThan(20) // serial persist-then-send would take the disk's 100 ms first
      yield* cfg.wait(index, 3, -1)
      slow = -1
    }))

  raftTest("a leader that crashes before its own write is durable loses nothing committed", options, (cfg) =>
    Effect.gen(function*() {
      const leader = yield* cfg.checkOneLeader
      slow = leader
      const { index } = yield* cfg.nodes[leader]!.raft.propose(encodeCommand(99))
      yield* until(Effect.map(status(cfg, leader), (s) => s.commit >= index), 1000)
      yield* cfg.crash1(leader) // mid-write: the leader's own copy is lost
      slow = -1
      // The new leader commits an entry of its own term, which commits 99 before it (§5.4.2).
      yield* cfg.one(100, 2, true)
      expect(yield* cfg.wait(index, 2, -1)).toBe(99)
      yield* cfg.start1(leader)
      yield* cfg.connect(leader)
      expect(yield* cfg.wait(index, 3, -1)).toBe(99)
      yield* cfg.one(101, 3, true)
    }))
})
