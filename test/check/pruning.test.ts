/**
 * The pruned search against the plain search and brute force: the same verdict on 20,000 random small
 * KV histories (every rule on), and on fewer with each rule alone and each rule off; and the hot-key
 * histories the plain search gives up on, decided, with the right answer.
 *
 * Seeded loops (not fast-check, whose shrinking would make a failure cost minutes): `SEED=<n>` replays
 * a run; a failure prints the seed and the history.
 */
import { describe, expect, it } from "vitest"
import { allRules, type PruneRules } from "../../src/check/Model.js"
import * as Linearizability from "../../src/check/Linearizability.js"
import * as Kv from "../../src/check/models/Kv.js"
import { bruteForce, isLinearization } from "./support/brute.js"
import { prng } from "./support/histories.js"
import { hotKeyHistory, twin, type TwinKind } from "./support/hotkey.js"

const SEED = process.env.SEED !== undefined ? Number(process.env.SEED) : 14

// Values that are prefixes of each other (and the empty value), or separated tokens that are not.
const valueSets = [["a", "b", "ab", "ba", ""], ["x;", "y;", "z;"]] as const

/** 1-9 operations on one or several keys, a fifth never returned; reads return 0-3 written values. */
const smallHistory = (rng: ReturnType<typeof prng>): Kv.History => {
  const n = 1 + rng.int(9)
  const keys = rng.int(2) === 0 ? ["k"] : ["k", "j", "i"].slice(0, 2 + rng.int(2))
  const values = valueSets[rng.int(2)]!
  const pick = () => values[rng.int(values.length)]!
  return Array.from({ length: n }, (_, i): Kv.Operation => {
    const key = keys[rng.int(keys.length)]!
    const r = rng.int(3)
    const input: Kv.KvInput = r === 0 ? { op: "get", key } : { op: r === 1 ? "put" : "append", key, value: pick() }
    const call = rng.int(10)
    if (rng.int(5) === 0) return { clientId: i, input, call }
    const output = r === 0 ? { value: Array.from({ length: rng.int(4) }, pick).join("") } : {}
    return { clientId: i, input, output, call, return: call + rng.int(5) }
  })
}

const verdict = (history: Kv.History, options: Linearizability.CheckOptions) => {
  const result = Linearizability.checkHistory(Kv.model, history, options)
  if (result._tag === "Ok") {
    for (const p of result.partitions) {
      if (!isLinearization(history, p.ops, p.longest)) throw new Error(`not a linearization: ${p.longest}`)
    }
  }
  return result._tag
}

const agree = (runs: number, seed: number, configurations: ReadonlyArray<Partial<PruneRules>>) => {
  const rng = prng(seed)
  for (let run = 0; run < runs; run++) {
    const history = smallHistory(rng)
    const expected = bruteForce(history) ? "Ok" : "Illegal"
    const got = [
      verdict(history, { search: "plain" }),
      ...configurations.map((rules) => verdict(history, { search: "pruned", rules }))
    ]
    if (got.some((v) => v !== expected)) {
      throw new Error(
        `seed ${seed}, run ${run}: brute force says ${expected}, plain and pruned ${JSON.stringify(got)} ` +
          `(rules ${JSON.stringify(configurations)}):\n${JSON.stringify(history)}`
      )
    }
  }
}

const single = (rule: keyof PruneRules): Partial<PruneRules> =>
  Object.fromEntries(Object.keys(allRules).map((r) => [r, r === rule])) as Partial<PruneRules>

describe("pruned search", () => {
  it("agrees with the plain search and brute force on 20,000 small random histories", () => {
    agree(20_000, SEED, [{}])
  })

  it("agrees with each rule alone and each rule off", () => {
    const rules = Object.keys(allRules) as Array<keyof PruneRules>
    agree(1_500, SEED + 1, [...rules.map(single), ...rules.map((r) => ({ [r]: false }))])
  })

  it("decides at once the history that is exponential for the plain search (blind puts, rule c)", () => {
    const put = (c: number, v: string): Kv.Operation => Kv.operation(c, { op: "put", key: "k", value: v }, 0, 100, {})
    const get = (v: string, t: number): Kv.Operation => Kv.operation(20, { op: "get", key: "k" }, t, t + 10, { value: v })
    const history = [...Array.from({ length: 20 }, (_, i) => put(i, `v${i}`)), get("v0", 200), get("v1", 220)]
    const check = (search: Linearizability.SearchMode, maxSteps: number) =>
      Linearizability.checkHistory(Kv.model, history, { maxSteps, search })._tag
    expect(check("pruned", 1_000)).toBe("Illegal")
    expect(check("plain", 100_000)).toBe("Unknown")
    // Auto: the plain search for 4 steps per operation + 10,000, then the pruned one.
    expect(check("auto", 10_000)).toBe("Unknown")
    expect(check("auto", 12_000)).toBe("Illegal")
  })
})

describe("hot-key histories", () => {
  // A small in-suite set; `npm run bench -- check` sweeps 10/16/20 clients x 500-4,000 operations.
  const cases = [
    { clients: 10, ops: 500, pending: 0, prefixes: false },
    { clients: 16, ops: 1_000, pending: 0.05, prefixes: true },
    { clients: 20, ops: 1_500, pending: 0.15, prefixes: false },
    { clients: 20, ops: 1_000, pending: 0.1, prefixes: true }
  ]

  for (const c of cases) {
    const name = `${c.clients} clients, ${c.ops} operations, ${c.pending * 100}% never returned` +
      (c.prefixes ? ", values prefixes of each other" : "")
    it(`${name}: linearizable; its twins with an impossible read are not`, () => {
      const seed = SEED + c.ops + c.clients
      const h = hotKeyHistory({ ...c, seed })
      const original = Linearizability.checkHistory(Kv.model, h.history, { maxSteps: 3_000_000 })
      expect(original._tag, `seed ${seed}`).toBe("Ok")
      expect(isLinearization(h.history, original.partitions[0]!.ops, original.partitions[0]!.longest)).toBe(true)
      // A read of a character nothing wrote, or (when values end in ";") of a value cut inside a
      // token, is impossible by construction.
      const kinds: ReadonlyArray<TwinKind> = c.prefixes ? ["impossible"] : ["impossible", "dropLast"]
      for (const kind of kinds) {
        for (const pick of [3, 41, 77]) {
          const result = Linearizability.checkHistory(Kv.model, twin(h, kind, pick)!, { maxSteps: 3_000_000 })
          expect(result._tag, `seed ${seed}, ${kind} ${pick}`).toBe("Illegal")
        }
      }
      // A read changed to another read's output: whatever both searches decide, they agree.
      for (const pick of [3, 41]) {
        const changed = twin(h, "otherRead", pick)!
        const pruned = Linearizability.checkHistory(Kv.model, changed, { maxSteps: 300_000 })._tag
        const plain = Linearizability.checkHistory(Kv.model, changed, { maxSteps: 100_000, search: "plain" })._tag
        if (pruned !== "Unknown" && plain !== "Unknown") expect(pruned, `seed ${seed}, otherRead ${pick}`).toBe(plain)
      }
    })
  }
})
