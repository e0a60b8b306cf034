/**
 * Migrations beyond the 6.824 tests, each a seeded simulation with the whole history checked:
 * - a migration racing leader changes in the sending and the receiving group;
 * - an Append whose reply is lost, retried after its shard moved to another group, executes once (the
 *   duplicate table moves with the shard);
 * - a receiving group restarted halfway through pulling a shard (pages) resumes from its own state;
 * - old owners keep nothing of what they gave away (garbage collection);
 * - a negative control: a mutation that serves a shard before its data has arrived is caught.
 */
import { Clock, Effect, Exit, Fiber } from "effect"
import { expect } from "vitest"
import { shardOfKey } from "../../src/shardctrler/Config.js"
import * as Group from "../../src/shardkv/ShardStateMachine.js"
import * as ShardKv from "../support/ShardKvHarness.js"
import { GIDS, serverName, shardTest } from "../support/ShardKvHarness.js"
import { simTest } from "../support/simTest.js"

const sleep = (ms: number) => Effect.sleep(`${ms} millis`)
const limit = { timeLimit: "120 seconds" } as const

/** Polls every 10 ms of simulated time until `cond` holds, failing after `limitMs`. */
const until = (what: string, cond: Effect.Effect<boolean>, limitMs = 30_000) =>
  Effect.gen(function*() {
    const t0 = yield* Clock.currentTimeMillis
    while (!(yield* cond)) {
      if ((yield* Clock.currentTimeMillis) - t0 > limitMs) return yield* Effect.dieMessage(`timed out waiting for ${what}`)
      yield* sleep(10)
    }
  })

const leaderOf = (cfg: ShardKv.ShardKvHarness, gi: number) =>
  Effect.flatMap(cfg.groups[gi]!.leader, (l) => (l < 0 ? Effect.dieMessage(`group ${gi} has no leader`) : Effect.succeed(l)))

const stateOf = (cfg: ShardKv.ShardKvHarness, gi: number, i: number) =>
  Effect.map(cfg.groups[gi]!.members[i]!.service.replica.local, (l) => l.state)

shardTest("a migration racing leader changes in the sending and the receiving group", { n: 3, unreliable: false, maxraftstate: 1000 }, (cfg) =>
  Effect.gen(function*() {
    const ck = yield* cfg.makeClient
    yield* cfg.join(0)
    const keys = Array.from({ length: 20 }, (_, i) => `k${i}`)
    for (const k of keys) yield* ck.put(k, "v")
    const appends = yield* Effect.fork(Effect.forEach(keys, (k) => ck.append(k, "+"), { discard: true }))
    yield* cfg.join(1)
    // While the shards move, both groups lose their leaders.
    yield* sleep(30)
    const l0 = yield* leaderOf(cfg, 0)
    const l1 = yield* leaderOf(cfg, 1)
    yield* cfg.shutdownServer(0, l0)
    yield* cfg.shutdownServer(1, l1)
    yield* Fiber.join(appends)
    yield* cfg.startServer(0, l0)
    yield* cfg.startServer(1, l1)
    for (const k of keys) expect(yield* ck.get(k), k).toBe("v+")
  }), limit)

shardTest("an Append whose reply is lost, retried after its shard moved, executes once", { n: 3, unreliable: false, maxraftstate: -1 }, (cfg) =>
  Effect.gen(function*() {
    const ck = yield* cfg.makeClient
    yield* cfg.join(0)
    yield* ck.put("k", "")
    const leader = yield* leaderOf(cfg, 0)
    const victim = yield* cfg.makeClient
    // Every reply from group 0's leader to this clerk is lost, after the Append ran there.
    yield* cfg.net.dropReplies(victim.ends[serverName(GIDS[0], leader)]!, 1_000_000)
    const append = yield* Effect.fork(victim.append("k", "once", 1))
    yield* until("group 0 to apply the Append", Effect.map(stateOf(cfg, 0, leader), (s) => Group.serving(s, "k")?.data.get("k") === "once"))
    // The shard moves to group 1, with its duplicate table; the retry reaches group 1.
    yield* cfg.join(1)
    const shard = shardOfKey("first-byte", 10, "k")
    yield* cfg.mck.move(shard, GIDS[1])
    yield* Fiber.join(append)
    expect(yield* ck.get("k")).toBe("once")
    yield* ck.append("k", "+")
    expect(yield* ck.get("k")).toBe("once+")
  }), limit)

shardTest(
  "a group restarted halfway through pulling a shard resumes it; the old owner then deletes it",
  { n: 3, unreliable: false, maxraftstate: 2000, server: { pageBytes: 2000 } },
  (cfg) =>
    Effect.gen(function*() {
      const ck = yield* cfg.makeClient
      yield* cfg.join(0)
      // One shard with many pages: 40 keys of 500 bytes, all in shard of "a…" (first-byte).
      const keys = Array.from({ length: 40 }, (_, i) => `a${i}`)
      const value = "x".repeat(500)
      for (const k of keys) yield* ck.put(k, value)
      const shard = shardOfKey("first-byte", 10, "a")
      yield* cfg.join(1)
      yield* cfg.mck.move(shard, GIDS[1])
      // Group 1 has some pages of the shard, not all: restart the whole group now.
      const partial = Effect.gen(function*() {
        for (let i = 0; i < 3; i++) {
          const m = cfg.groups[1]!.members[i]
          if (m === undefined) continue
          const sh = (yield* m.service.replica.local).state.shards.get(shard)
          if (sh?.status === "pulling" && sh.cursor > 0) return true
        }
        return false
      })
      yield* until("group 1 to have part of the shard", partial)
      yield* cfg.shutdownGroup(1)
      yield* cfg.startGroup(1)
      for (const k of keys) expect(yield* ck.get(k), k).toBe(value)
      // Garbage collection: group 0 drops the shard once group 1 confirms it has it.
      const gone = Effect.gen(function*() {
        for (let i = 0; i < 3; i++) if ((yield* stateOf(cfg, 0, i)).shards.has(shard)) return false
        return true
      })
      yield* until("group 0 to delete the shard it gave away", gone)
      const status = yield* cfg.groups[0]!.members[0]!.service.status
      expect(status.shards[String(shard)]).toBeUndefined()
    }),
  limit
)

/** Serves a shard as soon as the config says so, before its data has arrived: a linearizability bug. */
const servesEarly = (gid: number) => {
  const base = Group.machine(gid)
  return {
    ...base,
    apply: (state: Group.GroupState, cmd: Group.ShardCommand) => {
      const out = base.apply(state, cmd)
      if (cmd._tag === "Config") for (const sh of state.shards.values()) if (sh.status === "pulling") sh.status = "serving"
      return out
    }
  }
}

simTest("negative control: serving a shard before its data arrives is caught", Effect.gen(function*() {
  const exit = yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
    const cfg = yield* ShardKv.make({ n: 3, unreliable: false, maxraftstate: -1, machine: servesEarly })
    const ck = yield* cfg.makeClient
    yield* cfg.join(0)
    for (let i = 0; i < 10; i++) yield* ck.put(String(i), `v${i}`)
    yield* cfg.join(1)
    yield* sleep(500)
    for (let i = 0; i < 10; i++) expect(yield* ck.get(String(i)), String(i)).toBe(`v${i}`)
    yield* cfg.checkLinearizable
  })))
  expect(Exit.isFailure(exit), "the broken state machine went unnoticed").toBe(true)
}), limit)
