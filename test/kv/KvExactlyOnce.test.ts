/**
 * Beyond the labs: an Append whose reply is lost is retried by its client after a leader change, at a
 * new leader whose state arrived by InstallSnapshot, and still executes exactly once. Also unit tests
 * of the duplicate table itself.
 */
import { Clock, Effect, Fiber } from "effect"
import { describe, expect, it } from "vitest"
import * as Kv from "../../src/kv/KvStateMachine.js"
import { kvTest } from "../support/KvHarness.js"

/** Polls every 0.5 ms of simulated time until `cond` holds (bounded). */
const until = (what: string, cond: Effect.Effect<boolean>, limitMs = 10_000) =>
  Effect.gen(function*() {
    const t0 = yield* Clock.currentTimeMillis
    while (!(yield* cond)) {
      if ((yield* Clock.currentTimeMillis) - t0 > limitMs) return yield* Effect.fail(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep("0.5 millis")
    }
  })

describe("KV exactly-once", () => {
  kvTest(
    "a retried Append executes once across a lost reply, a leader change and a snapshot install",
    { n: 5, unreliable: false, maxraftstate: 400 },
    (cfg) =>
      Effect.gen(function*() {
        const ck = yield* cfg.makeClient(cfg.all)
        yield* ck.put("k", "")
        let leader = -1
        yield* until("a leader", Effect.map(cfg.leader, (l) => (leader = l) >= 0))
        const lagger = (leader + 1) % cfg.n
        yield* cfg.partition(cfg.all.filter((i) => i !== lagger), [lagger])

        // The client can only reach the leader, and the leader's reply to it will be lost.
        const victim = yield* cfg.makeClient([leader])
        yield* cfg.net.dropReplies(cfg.clerkEnd(victim, leader), 1)
        const append = yield* Effect.fork(victim.append("k", "once", 1))
        const applied = Effect.map(cfg.servers[leader]!.kv.replica.local, (l) => Kv.get(l.state, "k") === "once")
        yield* until("the leader to apply the append", applied)
        // Executed; the reply is on its way to being dropped. Cut the client off while things change.
        yield* cfg.disconnectClient(victim, cfg.all)

        // Enough other writes that every log is compacted past the append.
        const other = yield* cfg.makeClient(cfg.all.filter((i) => i !== lagger))
        for (let i = 0; i < 60; i++) yield* other.put(`filler-${i % 5}`, `${i}`, 2)
        expect((yield* cfg.servers[leader]!.raft.status).snapshotIndex).toBeGreaterThan(2)

        // The lagging server rejoins: it can only catch up through InstallSnapshot, and then it leads.
        yield* cfg.connectAll
        yield* until("the lagger to install a snapshot", Effect.map(cfg.servers[lagger]!.raft.status, (s) => s.snapshotIndex > 2))
        const before = yield* cfg.servers[leader]!.raft.status
        yield* until("the lagger to catch up", Effect.map(cfg.servers[lagger]!.raft.status, (s) => s.applied >= before.commit))
        yield* cfg.servers[leader]!.raft.transferLeadership(String(lagger))
        yield* until("the lagger to lead", Effect.map(cfg.servers[lagger]!.raft.status, (s) => s.role === "Leader"))
        expect((yield* cfg.servers[lagger]!.raft.status).term).toBeGreaterThan(before.term)

        // The client retries the same request (same client id and sequence number) at the new leader.
        yield* cfg.connectClient(victim, [lagger])
        yield* Fiber.join(append)
        expect(yield* ck.get("k")).toBe("once")
        yield* cfg.checkLinearizable
      })
  )
})

describe("KvStateMachine duplicate table", () => {
  it("a retry returns the remembered reply and changes nothing; an older retry is ignored", () => {
    const s = Kv.empty()
    expect(Kv.apply(s, { op: "append", key: "k", value: "a", clientId: 7, seq: 1 })).toEqual({ value: "" })
    Kv.apply(s, { op: "append", key: "k", value: "a", clientId: 7, seq: 1 })
    expect(Kv.get(s, "k")).toBe("a")
    expect(Kv.apply(s, { op: "get", key: "k", clientId: 7, seq: 2 })).toEqual({ value: "a" })
    Kv.apply(s, { op: "append", key: "k", value: "b", clientId: 8, seq: 1 })
    expect(Kv.apply(s, { op: "get", key: "k", clientId: 7, seq: 2 })).toEqual({ value: "a" }) // remembered
    Kv.apply(s, { op: "append", key: "k", value: "a", clientId: 7, seq: 1 }) // an old retry
    expect(Kv.get(s, "k")).toBe("ab")
  })

  it("the duplicate table survives a snapshot", () => {
    const s = Kv.empty()
    Kv.apply(s, { op: "put", key: "x", value: "1", clientId: 3, seq: 5 })
    const r = Kv.restore(Kv.snapshot(s))
    Kv.apply(r, { op: "put", key: "x", value: "2", clientId: 4, seq: 1 })
    Kv.apply(r, { op: "put", key: "x", value: "1", clientId: 3, seq: 5 }) // a retry from before the snapshot
    expect(Kv.get(r, "x")).toBe("2")
  })
})
