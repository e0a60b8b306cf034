/**
 * The observability seam of a Raft node: its event stream and counters, and its storage's and
 * transport's counters, moving with what the cluster does (seeded simulations on the 6.824 harness).
 */
import { Effect, Stream } from "effect"
import { expect } from "vitest"
import type { RaftEvent } from "../../src/raft/Raft.js"
import { raftTest } from "../support/RaftHarness.js"

raftTest("events: leader changes, an unreachable peer and its return, a snapshot; counters move", { n: 3 }, (cfg) =>
  Effect.scoped(Effect.gen(function*() {
    const leader = yield* cfg.checkOneLeader
    const follower = (leader + 1) % 3
    const record = (i: number) =>
      Effect.gen(function*() {
        const seen: Array<RaftEvent> = []
        yield* Effect.forkScoped(Stream.runForEach(cfg.nodes[i]!.raft.events, (e) => Effect.sync(() => seen.push(e))))
        return seen
      })
    const onLeader = yield* record(leader)
    const onFollower = yield* record(follower)
    yield* Effect.sleep("10 millis")

    const before = yield* cfg.nodes[leader]!.raft.counters
    for (let k = 0; k < 5; k++) yield* cfg.one(k + 1, 3, false)
    const after = yield* cfg.nodes[leader]!.raft.counters
    expect(after.proposals - before.proposals).toBe(5)
    expect(after.applied - before.applied).toBeGreaterThanOrEqual(5)
    expect(after.appendEntriesSent).toBeGreaterThan(before.appendEntriesSent)
    expect((yield* cfg.nodes[follower]!.raft.counters).appendEntriesReceived).toBeGreaterThan(0)

    // The leader loses sight of a follower, then sees it again. (The harness has labrpc's long delays:
    // a call to a disconnected node fails only after up to 7 s, and may fail after the reconnection.)
    yield* cfg.disconnect(follower)
    yield* Effect.sleep("8 seconds")
    yield* cfg.connect(follower)
    yield* Effect.sleep("8 seconds")
    expect(onLeader.filter((e) => e._tag === "PeerUnreachable" || e._tag === "PeerReachable").map((e) => e._tag))
      .toEqual(["PeerUnreachable", "PeerReachable"])
    // The application compacts the leader's log.
    const applied = (yield* cfg.nodes[leader]!.raft.status).applied
    yield* cfg.nodes[leader]!.raft.snapshot(applied, new Uint8Array([1, 2, 3]))
    yield* Effect.sleep("100 millis")
    expect(onLeader).toContainEqual({ _tag: "SnapshotTaken", index: applied, bytes: 3 })
    expect((yield* cfg.nodes[leader]!.raft.counters).snapshotsTaken).toBe(1)

    // Cut off alone, the leader steps down and the others elect a new one; the follower sees it.
    yield* cfg.disconnect(leader)
    yield* Effect.sleep("3 seconds")
    yield* cfg.connect(leader)
    yield* Effect.sleep("2 seconds")
    expect(onLeader.filter((e) => e._tag === "RoleChanged").map((e) => e._tag === "RoleChanged" && e.role)[0]).toBe("Follower")
    const changes = onFollower.filter((e) => e._tag === "LeaderChanged")
    expect(changes.length).toBeGreaterThanOrEqual(1)
    expect(changes.at(-1)).toMatchObject({ leader: expect.not.stringMatching(`^${leader}$`) })
    expect((yield* cfg.nodes[follower]!.raft.counters).leaderChanges).toBeGreaterThanOrEqual(1)
  })))
