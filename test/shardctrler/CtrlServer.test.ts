/**
 * The replicated controller beyond the 6.824 tests: Join, Leave and Move execute once across lost
 * replies, retries and leader changes; refused commands answer why, the same on every retry;
 * snapshots bound the log, and a replica restarted from its snapshot serves the whole history.
 */
import { Effect, Either } from "effect"
import { expect } from "vitest"
import { type Config, equals } from "../../src/shardctrler/Config.js"
import { ctrlTest } from "../support/CtrlHarness.js"

ctrlTest("a Join whose reply is lost is retried, across a leader change, and applied once", { n: 3 }, (cfg) =>
  Effect.gen(function*() {
    const ck = yield* cfg.makeClient()
    const before = yield* ck.query(-1)
    const leader = yield* cfg.leader
    // The leader applies the Join; its reply (and the retries' replies) to this clerk are lost; the
    // leader then goes down and the retry reaches the new leader, where it is a duplicate.
    yield* cfg.net.dropReplies(ck.ends[cfg.ids[leader]!]!, 1000)
    const join = yield* Effect.fork(ck.join(new Map([[7, ["a", "b"]]])))
    yield* Effect.sleep("200 millis")
    yield* cfg.shutdown(leader)
    const made = yield* Effect.flatMap(join.await, (exit) => (exit._tag === "Success" ? Effect.succeed(exit.value) : Effect.die(exit.cause)))
    expect(made.num).toBe(before.num + 1)
    const latest = yield* ck.query(-1)
    expect(latest.num).toBe(before.num + 1)
    expect(latest.groups.get(7)).toEqual(["a", "b"])
    // The next command gets the next number: nothing was applied twice.
    yield* ck.leave([7])
    expect((yield* ck.query(-1)).num).toBe(before.num + 2)
  }))

ctrlTest("refused commands answer why, the same on every replica and retry; Query(-1) sees every completed command", { n: 3 }, (cfg) =>
  Effect.gen(function*() {
    const ck = yield* cfg.makeClient()
    yield* ck.join(new Map([[1, ["x"]]]))
    const refusals = yield* Effect.forEach([
      ck.join(new Map([[1, ["y"]]])),
      ck.leave([2]),
      ck.move(10, 1),
      ck.move(3, 9),
      ck.join(new Map([[4, []]]))
    ], (e) => Effect.flip(e))
    expect(refusals.map((e) => e._tag === "InvalidRequest" ? e.reason : e._tag)).toEqual([
      "group 1 has already joined",
      "group 2 has not joined",
      "shard 10 is out of range (0 to 9)",
      "group 9 has not joined",
      "group 4 has no servers"
    ])
    // A refusal made no config.
    expect((yield* ck.query(-1)).num).toBe(1)
    expect(Either.isLeft(yield* Effect.either(ck.query(-2)))).toBe(true)
    // Another clerk's Query right after a completed command sees it.
    const other = yield* cfg.makeClient()
    const moved = yield* ck.move(3, 1)
    expect((yield* other.query(-1)).num).toBe(moved.num)
  }))

ctrlTest("snapshots bound the log; a replica restarted from its snapshot serves every config", { n: 3, server: { maxRaftState: 2000 } }, (cfg) =>
  Effect.gen(function*() {
    const ck = yield* cfg.makeClient()
    const history: Array<Config> = []
    for (let i = 0; i < 60; i++) {
      history.push(yield* ck.join(new Map([[100 + i, [`s${i}a`, `s${i}b`]]])))
      if (i % 3 === 2) history.push(yield* ck.leave([100 + i - 1]))
    }
    yield* Effect.sleep("1 second")
    for (let i = 0; i < 3; i++) {
      const sizes = (yield* cfg.sizes(i))!
      expect(sizes.logBytes, `replica ${i} log`).toBeLessThanOrEqual(8 * 2000)
      expect(sizes.snapshotBytes, `replica ${i} snapshot`).toBeGreaterThan(0)
    }
    // Restart every replica: they come back from their snapshots and logs.
    for (let i = 0; i < 3; i++) yield* cfg.shutdown(i)
    for (let i = 0; i < 3; i++) yield* cfg.start(i)
    for (const c of history) expect(equals(yield* ck.query(c.num), c), `config ${c.num}`).toBe(true)
  }))
