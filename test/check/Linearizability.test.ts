/**
 * The checker on hand-made KV histories with known answers, budgets, and the Effect wrapper.
 */
import { Effect, Exit, Fiber, TestContext } from "effect"
import { describe, expect, it } from "vitest"
import { HistoryError } from "../../src/check/History.js"
import * as Linearizability from "../../src/check/Linearizability.js"
import * as Kv from "../../src/check/models/Kv.js"
import * as Register from "../../src/check/models/Register.js"
import { linearizableKv, prng } from "./support/histories.js"

const put = (client: number, key: string, value: string, call: number, ret: number | undefined): Kv.Operation =>
  Kv.operation(client, { op: "put", key, value }, call, ret, ret === undefined ? undefined : {})
const append = (client: number, key: string, value: string, call: number, ret: number | undefined): Kv.Operation =>
  Kv.operation(client, { op: "append", key, value }, call, ret, ret === undefined ? undefined : {})
const get = (client: number, key: string, output: string | undefined, call: number, ret: number | undefined) =>
  Kv.operation(client, { op: "get", key }, call, ret, output === undefined ? undefined : { value: output })

const check = (history: Kv.History, options?: Linearizability.CheckOptions) =>
  Linearizability.checkHistory(Kv.model, history, options)
const verdict = (history: Kv.History) => check(history)._tag

// n concurrent puts, then reads of v0 and then v1 with no put between them: illegal, but for the plain
// search only after every subset of the other puts has been tried before v0 (the KV lookahead cannot
// rule them out, since v0 may still come). 2^n-ish steps: n = 9 takes about 8,000, n = 20 far more than
// any test allows. The budget tests use it with the plain search; the pruned one decides it at once
// (v2...v(n-1) are blind puts, absorbed by the put v0 or v1 after them: rule c).
const hardHistory = (n: number): Kv.History => [
  ...Array.from({ length: n }, (_, i) => put(i, "k", `v${i}`, 0, 100)),
  get(n, "k", "v0", 200, 210),
  get(n, "k", "v1", 220, 230)
]

describe("known answers", () => {
  it("an empty history is linearizable", () => {
    const result = check([])
    expect(result._tag).toBe("Ok")
    expect(result.partitions).toEqual([])
  })

  it("a sequential history that follows the model is linearizable, in its own order", () => {
    const history = [
      put(0, "x", "a", 0, 1),
      append(1, "x", "b", 2, 3),
      get(0, "x", "ab", 4, 5),
      get(1, "x", "ab", 6, 7)
    ]
    const result = check(history)
    expect(result._tag).toBe("Ok")
    expect(result.partitions[0]!.longest).toEqual([0, 1, 2, 3])
  })

  it("stale read: a get after a completed put returns the old value", () => {
    const history = [put(0, "x", "1", 0, 10), put(0, "x", "2", 11, 20), get(1, "x", "1", 25, 30)]
    const result = check(history)
    expect(result._tag).toBe("Illegal")
    const p = result.partitions[0]!
    expect(p.status).toBe("Illegal")
    expect(p.longest).toEqual([0, 1])
    expect(p.failure).toEqual({ state: Kv.state("2"), attempts: [2], deadEnds: [], blocking: 2, time: 30 })
  })

  it("lost write: one of two concurrent appends is missing", () => {
    expect(verdict([append(0, "x", "a", 0, 10), append(1, "x", "b", 0, 10), get(2, "x", "a", 20, 30)])).toBe("Illegal")
    expect(verdict([append(0, "x", "a", 0, 10), append(1, "x", "b", 0, 10), get(2, "x", "ba", 20, 30)])).toBe("Ok")
  })

  it("lost write: a put is overwritten by nothing", () => {
    expect(verdict([put(0, "x", "a", 0, 10), get(1, "x", "", 20, 30)])).toBe("Illegal")
  })

  it("duplicated append: an append that took effect twice", () => {
    expect(verdict([append(0, "x", "a", 0, 10), get(1, "x", "aa", 20, 30)])).toBe("Illegal")
    expect(verdict([append(0, "x", "a", 0, 10), append(0, "x", "a", 11, 15), get(1, "x", "aa", 20, 30)])).toBe("Ok")
  })

  it("concurrent puts that are legal only in one order", () => {
    // put 1 and put 2 overlap; the first get fixes their order as (2, 1).
    const base = [put(0, "x", "1", 0, 30), put(1, "x", "2", 5, 35), get(2, "x", "1", 40, 50)]
    const ok = check(base)
    expect(ok._tag).toBe("Ok")
    expect(ok.partitions[0]!.longest).toEqual([1, 0, 2])
    // A later get of "2" contradicts the only order the first get allows.
    const bad = check([...base, get(3, "x", "2", 60, 70)])
    expect(bad._tag).toBe("Illegal")
    expect(bad.partitions[0]!.failure!.blocking).toBe(3)
  })

  it("reads concurrent with a write may see either value, but not go back in time", () => {
    const w = put(0, "x", "1", 0, 100)
    expect(verdict([w, get(1, "x", "1", 10, 20), get(2, "x", "", 30, 40)])).toBe("Illegal")
    expect(verdict([w, get(1, "x", "", 10, 20), get(2, "x", "1", 30, 40)])).toBe("Ok")
    // Overlapping reads may be ordered either way.
    expect(verdict([w, get(1, "x", "1", 10, 40), get(2, "x", "", 20, 30)])).toBe("Ok")
  })

  it("a missing key reads as the empty string", () => {
    expect(verdict([get(0, "nothing", "", 0, 1)])).toBe("Ok")
    expect(verdict([get(0, "nothing", "x", 0, 1)])).toBe("Illegal")
  })

  it("keys are independent partitions, reported separately and in sorted key order", () => {
    const history = [
      put(0, "b", "1", 0, 10),
      get(1, "b", "2", 20, 30),
      put(0, "a", "1", 0, 10),
      get(1, "a", "1", 20, 30)
    ]
    const result = check(history)
    expect(result._tag).toBe("Illegal")
    expect(result.partitions.map((p) => [p.label, p.status, p.longest])).toEqual([
      ["a", "Ok", [2, 3]],
      ["b", "Illegal", [0]]
    ])
    expect(Linearizability.illegalPartitions(result).map((p) => p.label)).toEqual(["b"])
  })
})

describe("equal timestamps: calls come before returns", () => {
  it("an operation invoked at the instant another returned is concurrent with it", () => {
    // If the get came strictly after the put it would have to see "1".
    expect(verdict([put(0, "x", "1", 0, 10), get(1, "x", "", 10, 20)])).toBe("Ok")
    expect(verdict([put(0, "x", "1", 0, 10), get(1, "x", "", 11, 20)])).toBe("Illegal")
  })

  it("zero-length operations are ordered by time", () => {
    expect(verdict([put(0, "x", "1", 5, 5), get(1, "x", "1", 5, 5)])).toBe("Ok")
    expect(verdict([put(0, "x", "1", 5, 5), get(1, "x", "", 5, 5)])).toBe("Ok")
    expect(verdict([put(0, "x", "1", 5, 5), get(1, "x", "", 6, 6)])).toBe("Illegal")
  })

  it("many operations at one instant are all concurrent", () => {
    const history = Array.from({ length: 8 }, (_, i) => append(i, "x", String(i), 7, 7))
    expect(verdict([...history, get(9, "x", "76543210", 8, 9)])).toBe("Ok")
  })
})

describe("operations that never returned", () => {
  it("may have taken effect", () => {
    expect(verdict([put(0, "x", "1", 0, undefined), get(1, "x", "1", 100, 110)])).toBe("Ok")
  })

  it("may not have taken effect", () => {
    expect(verdict([put(0, "x", "1", 0, undefined), get(1, "x", "", 100, 110)])).toBe("Ok")
    expect(verdict([append(0, "x", "a", 0, undefined), append(1, "x", "b", 5, 6), get(2, "x", "b", 100, 110)]))
      .toBe("Ok")
  })

  it("take effect at most once, at one point", () => {
    expect(verdict([put(0, "x", "1", 0, undefined), get(1, "x", "1", 100, 110), get(2, "x", "", 120, 130)]))
      .toBe("Illegal")
  })

  it("cannot take effect before they were invoked", () => {
    expect(verdict([get(1, "x", "1", 0, 5), put(0, "x", "1", 10, undefined)])).toBe("Illegal")
  })

  it("can take effect long after every other operation returned", () => {
    const history = [put(0, "x", "1", 0, undefined), put(1, "x", "2", 10, 20), get(2, "x", "1", 30, 40)]
    expect(verdict(history)).toBe("Ok")
  })

  it("have unknown outputs: a get that never returned constrains nothing", () => {
    // Whatever output a pending operation carries is ignored.
    const pendingGet: Kv.Operation = { clientId: 1, input: { op: "get", key: "x" }, output: { value: "junk" }, call: 5 }
    expect(verdict([put(0, "x", "1", 0, 10), pendingGet, get(2, "x", "1", 20, 30)])).toBe("Ok")
    expect(verdict([{ ...pendingGet, return: null }])).toBe("Ok")
  })

  it("are accepted as undefined, null or absent return times", () => {
    const withNull: Kv.Operation = { clientId: 0, input: { op: "put", key: "x", value: "1" }, call: 0, return: null }
    const absent: Kv.Operation = { clientId: 0, input: { op: "put", key: "x", value: "1" }, call: 0 }
    for (const op of [withNull, absent]) {
      expect(verdict([op, get(1, "x", "1", 10, 20)])).toBe("Ok")
      expect(verdict([op, get(1, "x", "1", 10, 20), get(2, "x", "", 30, 40)])).toBe("Illegal")
    }
  })
})

describe("long histories", () => {
  it("checks a 100,000-operation sequential history without recursion limits", () => {
    const n = 100_000
    const history = Array.from({ length: n }, (_, i) =>
      i % 2 === 0 ? put(i % 7, "k", `v${i}`, 2 * i, 2 * i + 1) : get(i % 7, "k", `v${i - 1}`, 2 * i, 2 * i + 1))
    const result = check(history)
    expect(result._tag).toBe("Ok")
    expect(result.partitions[0]!.longest.length).toBe(n)
    expect(result.steps).toBe(n)
  })

  it("finds a corrupted read at the end of a 100,000-operation history", () => {
    const n = 100_000
    const history = Array.from({ length: n }, (_, i) =>
      ({
        clientId: i % 5,
        input: i % 2 === 0 ? { op: "write" as const, value: i } : { op: "read" as const },
        output: i % 2 === 0 ? {} : { value: i === n - 1 ? -1 : i - 1 },
        call: 2 * i,
        return: 2 * i + 1
      }))
    const result = Linearizability.checkHistory(Register.model, history)
    expect(result._tag).toBe("Illegal")
    expect(result.partitions[0]!.longest.length).toBe(n - 1)
    expect(result.partitions[0]!.failure!.blocking).toBe(n - 1)
  })

  it("checks generated concurrent histories with never-returned operations", () => {
    const { history } = linearizableKv({ ops: 20_000, keys: 10, clients: 8, overlap: 6, seed: 7, pending: 0.002 })
    expect(history.some((op) => op.return === undefined)).toBe(true)
    expect(check(history)._tag).toBe("Ok")
  })

  it("gives the same verdicts whatever order the history lists its operations in", () => {
    // The search sorts events itself; histories in call order take a shortcut (and nearly sorted
    // returns an insertion sort that gives up on a scrambled order), so try sorted, shuffled and
    // reversed lists, with never-returned operations, and a corrupted read in each.
    const { history } = linearizableKv({ ops: 3_000, keys: 3, clients: 8, overlap: 6, seed: 11, pending: 0.01 })
    const byCall = [...history].sort((a, b) => a.call - b.call)
    const rng = prng(5)
    const shuffled = [...history]
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = rng.int(i + 1)
      ;[shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!]
    }
    const reversed = [...byCall].reverse()
    const corrupt = (h: Kv.History): Kv.History => {
      const i = h.findIndex((op) => op.input.op === "get" && op.return !== undefined && (op.output?.value ?? "") !== "")
      return h.map((op, k) => (k === i ? { ...op, output: { value: `${op.output!.value}?` } } : op))
    }
    for (const h of [history, byCall, shuffled, reversed]) {
      const result = check(h)
      expect(result._tag).toBe("Ok")
      expect(result.partitions.reduce((n, p) => n + p.longest.length, 0)).toBe(h.length)
      expect(check(corrupt(h))._tag).toBe("Illegal")
    }
  })
})

describe("concurrent appends observed by one read (6.824's UnreliableOneKey)", () => {
  // Put("k", ""), then 5 clients each append "x c j y" 10 times, all overlapping, then one get. Without
  // the KV model's lookahead the search would try the interleavings (about 50!/(10!)^5 of them).
  const oneKey = (seed: number) => {
    const rng = prng(seed)
    const history: Array<Kv.Operation> = [put(0, "k", "", 0, 1)]
    const next = [0, 0, 0, 0, 0]
    const free = [2, 2, 2, 2, 2]
    let value = ""
    let t = 2
    for (let n = 0; n < 50; n++) {
      const ready = [0, 1, 2, 3, 4].filter((c) => next[c]! < 10)
      const c = ready[rng.int(ready.length)]!
      t = Math.max(t + 1, free[c]!)
      const token = `x ${c} ${next[c]} y`
      value += token
      const call = Math.max(free[c]!, t - rng.int(30))
      const ret = t + rng.int(30)
      history.push(append(c + 1, "k", token, call, ret))
      free[c] = ret + 1
      next[c]!++
    }
    const end = Math.max(...free)
    return { history, value, end }
  }

  it("places every append where the read says, without trying interleavings", () => {
    for (const seed of [1, 2, 3]) {
      const { end, history, value } = oneKey(seed)
      const result = check([...history, get(0, "k", value, end, end + 1)])
      expect(result._tag).toBe("Ok")
      expect(result.steps).toBeLessThan(2_000)
    }
  })

  it("finds a missing or duplicated append just as fast", () => {
    const { end, history, value } = oneKey(4)
    const missing = value.replace("x 3 5 y", "")
    const duplicated = value.replace("x 2 7 y", "x 2 7 yx 2 7 y")
    for (const read of [missing, duplicated]) {
      const bad = [...history, get(0, "k", read, end, end + 1)]
      const result = check(bad, { maxSteps: 100_000 })
      expect(result._tag).toBe("Illegal")
      expect(result.steps).toBeLessThan(5_000)
      expect(Linearizability.explain(Kv.model, bad, result)).toMatch(/^not linearizable: partition "k"/)
    }
  })

  it("reports operations that are legal next but lead nowhere as dead ends", () => {
    const history = [
      put(1, "x", "a", 0, 10),
      put(2, "x", "b", 5, 30),
      get(3, "x", "b", 32, 40),
      get(3, "x", "a", 42, 50),
      put(4, "x", "c", 46, undefined)
    ]
    const result = check(history)
    expect(result.partitions[0]!.failure).toMatchObject({ attempts: [3], deadEnds: [4], blocking: 3 })
    expect(Linearizability.explain(Kv.model, history, result).split("\n").slice(2)).toEqual([
      `  illegal next: client 3: get("x") → "a" [call 42, return 50; #3]`,
      `  dead end next: client 4: put("x", "c") [call 46, never returned; #4]: legal, but what remains cannot follow it`
    ])
  })
})

describe("budgets", () => {
  it("gives Unknown when the step budget runs out, deterministically", () => {
    const history = hardHistory(9)
    const a = check(history, { maxSteps: 5000, search: "plain" })
    const b = check(history, { maxSteps: 5000, search: "plain" })
    expect(a._tag).toBe("Unknown")
    expect(a._tag === "Unknown" && a.reason).toBe("steps")
    expect(a.steps).toBe(5000)
    expect(b).toEqual(a)
    expect(a.partitions[0]!.status).toBe("Unknown")
    // Given enough steps the same history is decided.
    expect(check(history)._tag).toBe("Illegal")
  })

  it("gives Unknown when the deadline passes, read through the caller's clock", () => {
    let now = 0
    const result = check(hardHistory(20), { timeoutMs: 5, now: () => now++, sliceSteps: 100, search: "plain" })
    expect(result._tag === "Unknown" && result.reason).toBe("timeout")
    // The clock was read once per slice (plus once at the start).
    expect(result.steps).toBeLessThanOrEqual(100 * 5)
  })

  it("gives Unknown when the caller's expired() says so", () => {
    let polls = 0
    const result = check(hardHistory(20), { expired: () => ++polls > 3, sliceSteps: 1000, search: "plain" })
    expect(result._tag === "Unknown" && result.reason).toBe("timeout")
    expect(result.steps).toBe(3000)
  })

  it("gives Unknown when the cache grows past its limit", () => {
    const result = check(hardHistory(20), { maxCacheEntries: 5_000, sliceSteps: 1_000, search: "plain" })
    expect(result._tag === "Unknown" && result.reason).toBe("memory")
    expect(result.steps).toBeLessThan(20_000)
    expect(Linearizability.explain(Kv.model, hardHistory(20), result)).toMatch(/^unknown: the cache size limit ran out/)
  })

  it("runs partitions round-robin, so one hard partition does not hide an illegal one", () => {
    const hard = hardHistory(20)
    const illegal = [put(0, "z", "1", 0, 10), get(1, "z", "2", 20, 30)]
    const result = check([...hard, ...illegal], { maxSteps: 10_000, sliceSteps: 500, search: "plain" })
    expect(result._tag).toBe("Illegal")
    expect(result.partitions.map((p) => [p.label, p.status])).toEqual([["k", "Unknown"], ["z", "Illegal"]])
    expect(Linearizability.explain(Kv.model, [...hard, ...illegal], result)).toContain("1 partition was not decided")
  })

  it("needs a clock for timeoutMs", () => {
    expect(() => check([], { timeoutMs: 10 })).toThrow(/needs a clock/)
  })
})

describe("malformed histories", () => {
  it("are rejected with HistoryError", () => {
    expect(() => check([put(0, "x", "1", 10, 5)])).toThrow(HistoryError)
    expect(() => check([put(0, "x", "1", Number.NaN, 5)])).toThrow(/call time NaN/)
    expect(() => check([put(0, "x", "1", 0, 1), put(0, "x", "1", 0, Number.POSITIVE_INFINITY)])).toThrow(/operation 1/)
  })
})

describe("Effect wrapper", () => {
  it("checks a history", async () => {
    const history = [put(0, "x", "1", 0, 1), get(1, "x", "1", 2, 3)]
    const result = await Effect.runPromise(Linearizability.check(Kv.model, history))
    expect(result._tag).toBe("Ok")
  })

  it("fails with HistoryError on a malformed history", async () => {
    const exit = await Effect.runPromiseExit(Linearizability.check(Kv.model, [put(0, "x", "1", 10, 5)]))
    const error = new HistoryError({ index: 0, reason: "return time 5 is before call time 10" })
    expect(exit).toStrictEqual(Exit.fail(error))
  })

  it("stops at the timeout measured on the live Clock", async () => {
    const program = Linearizability.check(Kv.model, hardHistory(20), { timeout: "30 millis", sliceSteps: 2000, search: "plain" })
    const result = await Effect.runPromise(program)
    expect(result._tag === "Unknown" && result.reason).toBe("timeout")
  })

  it("under a frozen test clock only the step budget bounds it", async () => {
    const program = Linearizability.check(Kv.model, hardHistory(20), { timeout: "1 second", maxSteps: 20_000, search: "plain" })
    const result = await Effect.runPromise(program.pipe(Effect.provide(TestContext.TestContext)))
    expect(result._tag === "Unknown" && result.reason).toBe("steps")
    expect(result.steps).toBe(20_000)
  })

  it("can be interrupted while searching", async () => {
    const exit = await Effect.runPromise(
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(Linearizability.check(Kv.model, hardHistory(20), { sliceSteps: 1000, search: "plain" }))
        yield* Effect.sleep("20 millis")
        return yield* Fiber.interrupt(fiber)
      })
    )
    expect(Exit.isInterrupted(exit)).toBe(true)
  })
})

describe("explain", () => {
  it("summarises each kind of result on its first line", () => {
    const ok = [put(0, "x", "1", 0, 1)]
    expect(Linearizability.explain(Kv.model, ok, check(ok)))
      .toBe("linearizable: 1 operations in 1 partition (1 search steps)")
    const bad = [put(0, "x", "1", 0, 10), put(0, "x", "2", 11, 20), get(1, "x", "1", 25, 30)]
    const text = Linearizability.explain(Kv.model, bad, check(bad))
    expect(text.split("\n")).toEqual([
      `not linearizable: partition "x": only 2 of its 3 operations linearize; ` +
      `by t=30 (when client 1's get("x") → "1" returned) no operation can take effect next`,
      `  state after the longest linearizable prefix: "2"`,
      `  illegal next: client 1: get("x") → "1" [call 25, return 30; #2]`
    ])
    const unknown = hardHistory(8)
    expect(Linearizability.explain(Kv.model, unknown, check(unknown, { maxSteps: 10, search: "plain" }))).toMatch(
      /^unknown: the step budget ran out after 10 steps with 1 of 1 partition undecided/
    )
  })
})
