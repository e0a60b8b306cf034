/** 6.824 Lab 2C: persistence, Figure 8, churn (SPEC-6824 §2.3). */
import { Effect, Fiber, Random, Ref } from "effect"
import { describe, expect } from "vitest"
import { ET, type Harness, raftTest } from "../support/RaftHarness.js"

const randInt = Random.nextIntBetween(0, 2 ** 31 - 1)

/** Sleep as Figure 8 does: 0–499 ms in 10% of iterations, else 0–12 ms. */
const figure8Sleep = Effect.gen(function*() {
  const ms = (yield* Random.nextIntBetween(0, 1000)) < 100
    ? yield* Random.nextIntBetween(0, ET / 2)
    : yield* Random.nextIntBetween(0, 13)
  yield* Effect.sleep(`${ms} millis`)
})

const churn = (cfg: Harness) =>
  Effect.gen(function*() {
    const stop = yield* Ref.make(false)
    // Three clients keep submitting commands and record the ones they saw committed.
    const client = (me: number) =>
      Effect.gen(function*() {
        const values: Array<number> = []
        while (!(yield* Ref.get(stop))) {
          const x = yield* randInt
          let index = -1
          let ok = false
          for (let i = 0; i < cfg.n; i++) {
            // Try them all, maybe one of them is a leader.
            if (cfg.nodes[i] !== undefined) {
              const r = yield* cfg.start(i, x)
              if (r.ok) {
                ok = true
                index = r.index
              }
            }
          }
          if (ok) {
            // Maybe leader will commit our value, maybe not. But don't wait forever.
            for (const to of [10, 20, 50, 100, 200]) {
              const [nd, cmd] = yield* cfg.nCommitted(index)
              if (nd > 0) {
                if (cmd === x) values.push(x)
                break
              }
              yield* Effect.sleep(`${to} millis`)
            }
          } else {
            yield* Effect.sleep(`${79 + me * 17} millis`)
          }
        }
        return values
      })
    const clients = yield* Effect.forEach([0, 1, 2], (me) => Effect.fork(client(me)))
    for (let iters = 0; iters < 20; iters++) {
      if ((yield* Random.nextIntBetween(0, 1000)) < 200) yield* cfg.disconnect(yield* Random.nextIntBetween(0, cfg.n))
      if ((yield* Random.nextIntBetween(0, 1000)) < 500) {
        const i = yield* Random.nextIntBetween(0, cfg.n)
        if (cfg.nodes[i] === undefined) yield* cfg.start1(i)
        yield* cfg.connect(i)
      }
      if ((yield* Random.nextIntBetween(0, 1000)) < 200) {
        const i = yield* Random.nextIntBetween(0, cfg.n)
        if (cfg.nodes[i] !== undefined) yield* cfg.crash1(i)
      }
      // Make crash/restart infrequent enough that the Rafts can still make progress.
      yield* Effect.sleep(`${(ET * 7) / 10} millis`)
    }
    yield* Effect.sleep(`${ET} millis`)
    yield* cfg.setReliable(true)
    for (let i = 0; i < cfg.n; i++) {
      if (cfg.nodes[i] === undefined) yield* cfg.start1(i)
      yield* cfg.connect(i)
    }
    yield* Ref.set(stop, true)
    const values = (yield* Effect.forEach(clients, Fiber.join)).flat()
    yield* Effect.sleep(`${ET} millis`)
    const lastIndex = yield* cfg.one(yield* randInt, cfg.n, true)
    const really: Array<number> = []
    for (let index = 1; index <= lastIndex; index++) {
      const v = yield* cfg.wait(index, cfg.n, -1)
      expect(typeof v, "not an int").toBe("number")
      really.push(v as number)
    }
    for (const v1 of values) expect(really, `didn't find a value ${v1}`).toContain(v1)
  })

describe("Raft 2C: persistence", () => {
  raftTest("Persist12C", { n: 3 }, (cfg) =>
    Effect.gen(function*() {
      yield* cfg.one(11, 3, true)
      // Crash and restart all.
      for (let i = 0; i < 3; i++) yield* cfg.start1(i)
      for (let i = 0; i < 3; i++) {
        yield* cfg.disconnect(i)
        yield* cfg.connect(i)
      }
      yield* cfg.one(12, 3, true)
      const leader1 = yield* cfg.checkOneLeader
      yield* cfg.disconnect(leader1)
      yield* cfg.start1(leader1)
      yield* cfg.connect(leader1)
      yield* cfg.one(13, 3, true)
      const leader2 = yield* cfg.checkOneLeader
      yield* cfg.disconnect(leader2)
      yield* cfg.one(14, 2, true)
      yield* cfg.start1(leader2)
      yield* cfg.connect(leader2)
      yield* cfg.wait(4, 3, -1) // wait for leader2 to join before killing i3
      const i3 = ((yield* cfg.checkOneLeader) + 1) % 3
      yield* cfg.disconnect(i3)
      yield* cfg.one(15, 2, true)
      yield* cfg.start1(i3)
      yield* cfg.connect(i3)
      yield* cfg.one(16, 3, true)
    }))

  raftTest("Persist22C", { n: 5 }, (cfg) =>
    Effect.gen(function*() {
      let index = 1
      for (let iters = 0; iters < 5; iters++) {
        yield* cfg.one(10 + index++, 5, true)
        const leader1 = yield* cfg.checkOneLeader
        yield* cfg.disconnect((leader1 + 1) % 5)
        yield* cfg.disconnect((leader1 + 2) % 5)
        yield* cfg.one(10 + index++, 3, true)
        yield* cfg.disconnect((leader1 + 0) % 5)
        yield* cfg.disconnect((leader1 + 3) % 5)
        yield* cfg.disconnect((leader1 + 4) % 5)
        yield* cfg.start1((leader1 + 1) % 5)
        yield* cfg.start1((leader1 + 2) % 5)
        yield* cfg.connect((leader1 + 1) % 5)
        yield* cfg.connect((leader1 + 2) % 5)
        yield* Effect.sleep(`${ET} millis`)
        yield* cfg.start1((leader1 + 3) % 5)
        yield* cfg.connect((leader1 + 3) % 5)
        yield* cfg.one(10 + index++, 3, true)
        yield* cfg.connect((leader1 + 4) % 5)
        yield* cfg.connect((leader1 + 0) % 5)
      }
      yield* cfg.one(1000, 5, true)
    }))

  raftTest("Persist32C", { n: 3 }, (cfg) =>
    Effect.gen(function*() {
      yield* cfg.one(101, 3, true)
      const leader = yield* cfg.checkOneLeader
      yield* cfg.disconnect((leader + 2) % 3)
      yield* cfg.one(102, 2, true)
      yield* cfg.crash1((leader + 0) % 3)
      yield* cfg.crash1((leader + 1) % 3)
      yield* cfg.connect((leader + 2) % 3)
      yield* cfg.start1((leader + 0) % 3)
      yield* cfg.connect((leader + 0) % 3)
      yield* cfg.one(103, 2, true)
      yield* cfg.start1((leader + 1) % 3)
      yield* cfg.connect((leader + 1) % 3)
      yield* cfg.one(104, 3, true)
    }))

  raftTest("Figure82C", { n: 5 }, (cfg) =>
    Effect.gen(function*() {
      yield* cfg.one(yield* randInt, 1, true)
      let nup = 5
      for (let iters = 0; iters < 1000; iters++) {
        let leader = -1
        for (let i = 0; i < 5; i++) {
          if (cfg.nodes[i] !== undefined && (yield* cfg.start(i, yield* randInt)).ok) leader = i
        }
        yield* figure8Sleep
        if (leader !== -1) {
          yield* cfg.crash1(leader)
          nup--
        }
        if (nup < 3) {
          const s = yield* Random.nextIntBetween(0, 5)
          if (cfg.nodes[s] === undefined) {
            yield* cfg.start1(s)
            yield* cfg.connect(s)
            nup++
          }
        }
      }
      for (let i = 0; i < 5; i++) {
        if (cfg.nodes[i] === undefined) {
          yield* cfg.start1(i)
          yield* cfg.connect(i)
        }
      }
      yield* cfg.one(yield* randInt, 5, true)
    }))

  raftTest("UnreliableAgree2C", { n: 5, unreliable: true }, (cfg) =>
    Effect.gen(function*() {
      const fibers = []
      for (let iters = 1; iters < 50; iters++) {
        for (let j = 0; j < 4; j++) fibers.push(yield* Effect.fork(cfg.one(100 * iters + j, 1, true)))
        yield* cfg.one(iters, 1, true)
      }
      yield* cfg.setReliable(true)
      for (const f of fibers) yield* Fiber.join(f)
      yield* cfg.one(100, 5, true)
    }))

  raftTest("Figure8Unreliable2C", { n: 5, unreliable: true }, (cfg) =>
    Effect.gen(function*() {
      yield* cfg.one((yield* randInt) % 10000, 1, true)
      let nup = 5
      for (let iters = 0; iters < 1000; iters++) {
        if (iters === 200) yield* cfg.setLongReordering(true)
        let leader = -1
        for (let i = 0; i < 5; i++) {
          if ((yield* cfg.start(i, (yield* randInt) % 10000)).ok && cfg.connected[i]) leader = i
        }
        yield* figure8Sleep
        if (leader !== -1 && (yield* Random.nextIntBetween(0, 1000)) < ET / 2) {
          yield* cfg.disconnect(leader)
          nup--
        }
        if (nup < 3) {
          const s = yield* Random.nextIntBetween(0, 5)
          if (!cfg.connected[s]) {
            yield* cfg.connect(s)
            nup++
          }
        }
      }
      for (let i = 0; i < 5; i++) if (!cfg.connected[i]) yield* cfg.connect(i)
      yield* cfg.one((yield* randInt) % 10000, 5, true)
    }))

  raftTest("ReliableChurn2C", { n: 5 }, (cfg) => churn(cfg))

  raftTest("UnreliableChurn2C", { n: 5, unreliable: true }, (cfg) => churn(cfg))
})
