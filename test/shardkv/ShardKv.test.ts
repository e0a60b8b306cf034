/**
 * The 13 shardkv tests of 6.824 (SPEC-6824 §5.3: 10 required and 3 challenges), with the original
 * parameters, in simulated time, each with an explicit 120 s limit. Every test records its clients'
 * history and checks it for linearizability (the original checks only Unreliable3's).
 */
import { Clock, Effect, Fiber, Option, Queue, Random, Ref } from "effect"
import { expect } from "vitest"
import { shardOfKey } from "../../src/shardctrler/Config.js"
import { type Clerk, GIDS, shardTest } from "../support/ShardKvHarness.js"

const LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
const randstring = (n: number) =>
  Effect.gen(function*() {
    let s = ""
    for (let i = 0; i < n; i++) s += LETTERS[yield* Random.nextIntBetween(0, LETTERS.length)]
    return s
  })

const check = (ck: Clerk, key: string, value: string) =>
  Effect.gen(function*() {
    const v = yield* ck.get(key)
    expect(v, `Get(${key})`).toBe(value)
  })

const key2shard = (key: string) => shardOfKey("first-byte", 10, key)
const keys = (n: number) => Array.from({ length: n }, (_, i) => String(i))

/** Puts `n` keys "0".."n-1" with random values of `len` characters; returns the values. */
const putAll = (ck: Clerk, n: number, len: number) =>
  Effect.gen(function*() {
    const va: Array<string> = []
    for (const k of keys(n)) {
      va.push(yield* randstring(len))
      yield* ck.put(k, va[va.length - 1]!)
    }
    return va
  })

const checkAll = (ck: Clerk, va: ReadonlyArray<string>) => Effect.forEach(va, (v, i) => check(ck, String(i), v), { discard: true })

const checkAndAppend = (ck: Clerk, va: Array<string>, len: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < va.length; i++) {
      yield* check(ck, String(i), va[i]!)
      const x = yield* randstring(len)
      yield* ck.append(String(i), x)
      va[i] += x
    }
  })

const sleep = (ms: number) => Effect.sleep(`${ms} millis`)

/** Appenders, one per key with its own clerk, until `stop`: each appends `len` random chars, then pauses `pauseMs`. */
const appenders = (makeClient: Effect.Effect<Clerk>, va: Array<string>, len: number, pauseMs: number) =>
  Effect.gen(function*() {
    const done = yield* Ref.make(false)
    const fibers = yield* Effect.forEach(va, (_, i) =>
      Effect.fork(Effect.gen(function*() {
        const ck1 = yield* makeClient
        while (!(yield* Ref.get(done))) {
          const x = yield* randstring(len)
          yield* ck1.append(String(i), x)
          va[i] += x
          if (pauseMs > 0) yield* sleep(pauseMs)
        }
      })))
    return Effect.zipRight(Ref.set(done, true), Fiber.joinAll(fibers))
  })

const limit = { timeLimit: "120 seconds" } as const

shardTest("StaticShards", { n: 3, unreliable: false, maxraftstate: -1 }, (cfg) =>
  Effect.gen(function*() {
    const ck = yield* cfg.makeClient
    yield* cfg.join(0)
    yield* cfg.join(1)
    const va = yield* putAll(ck, 10, 20)
    yield* checkAll(ck, va)
    // The data really is sharded: with one group down, about half the Gets cannot complete.
    yield* cfg.shutdownGroup(1)
    yield* cfg.checklogs // no snapshots
    const completions = yield* Queue.unbounded<string>()
    for (let i = 0; i < 10; i++) {
      yield* Effect.fork(Effect.gen(function*() {
        const ck1 = yield* cfg.makeClient
        const v = yield* ck1.get(String(i))
        yield* Queue.offer(completions, v === va[i] ? "" : `Get(${i}) returned ${v}, not ${va[i]}`)
      }))
    }
    let ndone = 0
    for (;;) {
      const next = yield* Queue.take(completions).pipe(Effect.timeout("2 seconds"), Effect.option)
      if (Option.isNone(next)) break
      expect(next.value).toBe("")
      ndone++
    }
    expect(ndone, "completions with one shard dead").toBe(5)
    yield* cfg.startGroup(1)
    yield* checkAll(ck, va)
  }), limit)

shardTest("JoinLeave", { n: 3, unreliable: false, maxraftstate: -1 }, (cfg) =>
  Effect.gen(function*() {
    const ck = yield* cfg.makeClient
    yield* cfg.join(0)
    const va = yield* putAll(ck, 10, 5)
    yield* checkAll(ck, va)
    yield* cfg.join(1)
    yield* checkAndAppend(ck, va, 5)
    yield* cfg.leave(0)
    yield* checkAndAppend(ck, va, 5)
    yield* sleep(1000)
    yield* cfg.checklogs
    yield* cfg.shutdownGroup(0)
    // Group 0 must have handed everything off.
    yield* checkAll(ck, va)
  }), limit)

shardTest("Snapshot", { n: 3, unreliable: false, maxraftstate: 1000 }, (cfg) =>
  Effect.gen(function*() {
    const ck = yield* cfg.makeClient
    yield* cfg.join(0)
    const va = yield* putAll(ck, 30, 20)
    yield* checkAll(ck, va)
    yield* cfg.join(1)
    yield* cfg.join(2)
    yield* cfg.leave(0)
    yield* checkAndAppend(ck, va, 20)
    yield* cfg.leave(1)
    yield* cfg.join(0)
    yield* checkAndAppend(ck, va, 20)
    yield* sleep(1000)
    yield* checkAll(ck, va)
    yield* sleep(1000)
    yield* cfg.checklogs
    for (const gi of [0, 1, 2]) yield* cfg.shutdownGroup(gi)
    for (const gi of [0, 1, 2]) yield* cfg.startGroup(gi)
    yield* checkAll(ck, va)
  }), limit)

shardTest("MissChange", { n: 3, unreliable: false, maxraftstate: 1000 }, (cfg) =>
  Effect.gen(function*() {
    const ck = yield* cfg.makeClient
    yield* cfg.join(0)
    const va = yield* putAll(ck, 10, 20)
    yield* checkAll(ck, va)
    yield* cfg.join(1)
    for (const gi of [0, 1, 2]) yield* cfg.shutdownServer(gi, 0)
    yield* cfg.join(2)
    yield* cfg.leave(1)
    yield* cfg.leave(0)
    yield* checkAndAppend(ck, va, 20)
    yield* cfg.join(1)
    yield* checkAndAppend(ck, va, 20)
    for (const gi of [0, 1, 2]) yield* cfg.startServer(gi, 0)
    yield* checkAndAppend(ck, va, 20)
    yield* sleep(2000)
    for (const gi of [0, 1, 2]) yield* cfg.shutdownServer(gi, 1)
    yield* cfg.join(0)
    yield* cfg.leave(2)
    yield* checkAndAppend(ck, va, 20)
    for (const gi of [0, 1, 2]) yield* cfg.startServer(gi, 1)
    yield* checkAll(ck, va)
  }), limit)

shardTest("Concurrent1", { n: 3, unreliable: false, maxraftstate: 100 }, (cfg) =>
  Effect.gen(function*() {
    const ck = yield* cfg.makeClient
    yield* cfg.join(0)
    const va = yield* putAll(ck, 10, 5)
    const stop = yield* appenders(cfg.makeClient, va, 5, 10)
    yield* sleep(150)
    yield* cfg.join(1)
    yield* sleep(500)
    yield* cfg.join(2)
    yield* sleep(500)
    yield* cfg.leave(0)
    yield* cfg.shutdownGroup(0)
    yield* sleep(100)
    yield* cfg.shutdownGroup(1)
    yield* sleep(100)
    yield* cfg.shutdownGroup(2)
    yield* cfg.leave(2)
    yield* sleep(100)
    for (const gi of [0, 1, 2]) yield* cfg.startGroup(gi)
    yield* sleep(100)
    yield* cfg.join(0)
    yield* cfg.leave(1)
    yield* sleep(500)
    yield* cfg.join(1)
    yield* sleep(1000)
    yield* stop
    yield* checkAll(ck, va)
  }), limit)

shardTest("Concurrent2", { n: 3, unreliable: false, maxraftstate: -1 }, (cfg) =>
  Effect.gen(function*() {
    const ck = yield* cfg.makeClient
    yield* cfg.join(1)
    yield* cfg.join(0)
    yield* cfg.join(2)
    const va = yield* putAll(ck, 10, 1)
    const stop = yield* appenders(cfg.makeClient, va, 1, 50)
    yield* cfg.leave(0)
    yield* cfg.leave(2)
    yield* sleep(3000)
    yield* cfg.join(0)
    yield* cfg.join(2)
    yield* cfg.leave(1)
    yield* sleep(3000)
    yield* cfg.join(1)
    yield* cfg.leave(0)
    yield* cfg.leave(2)
    yield* sleep(3000)
    yield* cfg.shutdownGroup(1)
    yield* cfg.shutdownGroup(2)
    yield* sleep(1000)
    yield* cfg.startGroup(1)
    yield* cfg.startGroup(2)
    yield* sleep(2000)
    yield* stop
    yield* checkAll(ck, va)
  }), limit)

shardTest("Concurrent3", { n: 3, unreliable: false, maxraftstate: 300 }, (cfg) =>
  Effect.gen(function*() {
    const ck = yield* cfg.makeClient
    yield* cfg.join(0)
    const va = yield* putAll(ck, 10, 1)
    const stop = yield* appenders(cfg.makeClient, va, 1, 0)
    const t0 = yield* Clock.currentTimeMillis
    while ((yield* Clock.currentTimeMillis) - t0 < 12_000) {
      yield* cfg.join(2)
      yield* cfg.join(1)
      yield* sleep(yield* Random.nextIntBetween(0, 900))
      for (const gi of [0, 1, 2]) yield* cfg.shutdownGroup(gi)
      for (const gi of [0, 1, 2]) yield* cfg.startGroup(gi)
      yield* sleep(yield* Random.nextIntBetween(0, 900))
      yield* cfg.leave(1)
      yield* cfg.leave(2)
      yield* sleep(yield* Random.nextIntBetween(0, 900))
    }
    yield* sleep(2000)
    yield* stop
    yield* checkAll(ck, va)
  }), limit)

shardTest("Unreliable1", { n: 3, unreliable: true, maxraftstate: 100 }, (cfg) =>
  Effect.gen(function*() {
    const ck = yield* cfg.makeClient
    yield* cfg.join(0)
    const va = yield* putAll(ck, 10, 5)
    yield* cfg.join(1)
    yield* cfg.join(2)
    yield* cfg.leave(0)
    for (let ii = 0; ii < 20; ii++) {
      const i = ii % 10
      yield* check(ck, String(i), va[i]!)
      const x = yield* randstring(5)
      yield* ck.append(String(i), x)
      va[i] += x
    }
    yield* cfg.join(0)
    yield* cfg.leave(1)
    for (let ii = 0; ii < 20; ii++) yield* check(ck, String(ii % 10), va[ii % 10]!)
  }), limit)

/** Unreliable2's and Unreliable3's configuration changes while clients run. */
const churn = (cfg: Parameters<Parameters<typeof shardTest>[2]>[0]) =>
  Effect.gen(function*() {
    yield* sleep(150)
    yield* cfg.join(1)
    yield* sleep(500)
    yield* cfg.join(2)
    yield* sleep(500)
    yield* cfg.leave(0)
    yield* sleep(500)
    yield* cfg.leave(1)
    yield* sleep(500)
    yield* cfg.join(1)
    yield* cfg.join(0)
    yield* sleep(2000)
  })

shardTest("Unreliable2", { n: 3, unreliable: true, maxraftstate: 100 }, (cfg) =>
  Effect.gen(function*() {
    const ck = yield* cfg.makeClient
    yield* cfg.join(0)
    const va = yield* putAll(ck, 10, 5)
    const stop = yield* appenders(cfg.makeClient, va, 5, 0)
    yield* churn(cfg)
    yield* cfg.net.setReliable(true)
    yield* stop
    yield* checkAll(ck, va)
  }), limit)

shardTest("Unreliable3", { n: 3, unreliable: true, maxraftstate: 100 }, (cfg) =>
  Effect.gen(function*() {
    const ck = yield* cfg.makeClient
    yield* cfg.join(0)
    yield* putAll(ck, 10, 5)
    const done = yield* Ref.make(false)
    const fibers = yield* Effect.forEach(keys(10), (_, i) =>
      Effect.fork(Effect.gen(function*() {
        const ck1 = yield* cfg.makeClient
        while (!(yield* Ref.get(done))) {
          const ki = String(yield* Random.nextIntBetween(0, 10))
          const nv = yield* randstring(5)
          if ((yield* Random.nextIntBetween(0, 1000)) < 500) yield* ck1.append(ki, nv, i + 1)
          else if ((yield* Random.nextIntBetween(0, 1000)) < 100) yield* ck1.put(ki, nv, i + 1)
          else yield* ck1.get(ki, i + 1)
        }
      })))
    yield* churn(cfg)
    yield* Ref.set(done, true)
    yield* cfg.net.setReliable(true)
    yield* Fiber.joinAll(fibers)
    // (The harness checks the whole history for linearizability, as the original checks this one's.)
  }), limit)

shardTest("Challenge1Delete", { n: 3, unreliable: false, maxraftstate: 1 }, (cfg) =>
  Effect.gen(function*() {
    const ck = yield* cfg.makeClient
    yield* cfg.join(0)
    // 30,000 bytes of values in all.
    const n = 30
    const va = yield* putAll(ck, n, 1000)
    const check3 = Effect.forEach([0, 1, 2], (i) => check(ck, String(i), va[i]!), { discard: true })
    yield* check3
    for (let iters = 0; iters < 2; iters++) {
      yield* cfg.join(1)
      yield* cfg.leave(0)
      yield* cfg.join(2)
      yield* sleep(3000)
      yield* check3
      yield* cfg.leave(1)
      yield* cfg.join(0)
      yield* cfg.leave(2)
      yield* sleep(3000)
      yield* check3
    }
    yield* cfg.join(1)
    yield* cfg.join(2)
    for (let k = 0; k < 3; k++) {
      yield* sleep(1000)
      yield* check3
    }
    // 27 keys stored once, 3 also in the duplicate tables, everything on 3 replicas, plus slop.
    const expected = 3 * ((n - 3) * 1000 + 2 * 3 * 1000 + 6000)
    const total = yield* cfg.totalStateBytes
    expect(total, `persisted ${total} bytes; expected at most ${expected}`).toBeLessThanOrEqual(expected)
    yield* checkAll(ck, va)
  }), limit)

shardTest("Challenge2Unaffected", { n: 3, unreliable: true, maxraftstate: 100 }, (cfg) =>
  Effect.gen(function*() {
    const ck = yield* cfg.makeClient
    yield* cfg.join(0) // 100
    const n = 10
    const va = keys(n).map(() => "100")
    for (let i = 0; i < n; i++) yield* ck.put(String(i), va[i]!)
    yield* cfg.join(1) // 101
    const c = yield* cfg.mck.query(-1)
    const owned = c.shards.map((gid) => gid === GIDS[1])
    // Wait for the migration to complete and clients to use the new config.
    yield* sleep(1000)
    // (As the original, this indexes `owned` by key number, not by the key's shard.)
    for (let i = 0; i < n; i++) {
      if (owned[i]) {
        va[i] = "101"
        yield* ck.put(String(i), va[i]!)
      }
    }
    // Kill 100, then make it leave: 101 never gets the chance to pull 100's other shards.
    yield* cfg.shutdownGroup(0)
    yield* cfg.leave(0)
    yield* sleep(1000)
    // Gets and puts of keys in shards 101 already had still complete.
    for (let i = 0; i < n; i++) {
      if (owned[key2shard(String(i))]) {
        yield* check(ck, String(i), va[i]!)
        yield* ck.put(String(i), va[i] + "-1")
        yield* check(ck, String(i), va[i] + "-1")
      }
    }
  }), limit)

shardTest("Challenge2Partial", { n: 3, unreliable: true, maxraftstate: 100 }, (cfg) =>
  Effect.gen(function*() {
    const ck = yield* cfg.makeClient
    yield* cfg.joinm([0, 1, 2])
    yield* sleep(1000)
    const n = 10
    const va = keys(n).map(() => "100")
    for (let i = 0; i < n; i++) yield* ck.put(String(i), va[i]!)
    const c = yield* cfg.mck.query(-1)
    const owned = c.shards.map((gid) => gid === GIDS[2])
    // Kill 100; 100 and 102 leave: 101 can pull 102's shards but never 100's.
    yield* cfg.shutdownGroup(0)
    yield* cfg.leavem([0, 2])
    yield* sleep(1000)
    // 101 serves what it got from 102 before the transfer from the dead 100 completes (never).
    for (let i = 0; i < n; i++) {
      if (owned[key2shard(String(i))]) {
        yield* check(ck, String(i), va[i]!)
        yield* ck.put(String(i), va[i] + "-2")
        yield* check(ck, String(i), va[i] + "-2")
      }
    }
  }), limit)
