/**
 * Property tests: generated linearizable histories pass, a corrupted sequential history fails where
 * it was corrupted, and on small random histories the checker agrees with brute force and every
 * linearization it returns is a valid one.
 */
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { returnTime } from "../../src/check/History.js"
import * as Linearizability from "../../src/check/Linearizability.js"
import * as Kv from "../../src/check/models/Kv.js"
import { linearizableKv } from "./support/histories.js"

const generated = fc.record({
  ops: fc.integer({ min: 1, max: 300 }),
  keys: fc.integer({ min: 1, max: 5 }),
  clients: fc.integer({ min: 1, max: 8 }),
  overlap: fc.integer({ min: 0, max: 12 }),
  seed: fc.integer(),
  pending: fc.constantFrom(0, 0.02, 0.1)
})

// The model applied along an order; undefined if some step is illegal.
const replay = (history: Kv.History, order: ReadonlyArray<number>): Kv.State | undefined => {
  let state = Kv.model.initial
  for (const i of order) {
    const op = history[i]!
    const [legal, next] = Kv.model.step(state, op.input, op.return == null ? undefined : op.output)
    if (!legal) return undefined
    state = next
  }
  return state
}

// An order respects real time when no operation comes after one that was invoked after it returned.
const respectsRealTime = (history: Kv.History, order: ReadonlyArray<number>): boolean =>
  order.every((a, i) => order.slice(i + 1).every((b) => !(returnTime(history[b]!) < history[a]!.call)))

// Everything that returned before an operation of the prefix was invoked precedes it in the prefix.
const prefixClosed = (history: Kv.History, ops: ReadonlyArray<number>, prefix: ReadonlyArray<number>): boolean =>
  prefix.every((a, i) =>
    ops.every((b) => !(returnTime(history[b]!) < history[a]!.call) || prefix.slice(0, i).includes(b))
  )

// Reference answer: try every order of the operations (per key, as the model partitions).
const bruteForce = (history: Kv.History): boolean => {
  const byKey = new Map<string, Array<number>>()
  history.forEach((op, i) => byKey.set(op.input.key, [...(byKey.get(op.input.key) ?? []), i]))
  const search = (remaining: ReadonlyArray<number>, state: Kv.State): boolean => {
    if (remaining.length === 0) return true
    return remaining.some((i) => {
      const op = history[i]!
      // i can go next only if no remaining operation returned before i was invoked.
      if (remaining.some((j) => returnTime(history[j]!) < op.call)) return false
      const [legal, next] = Kv.model.step(state, op.input, op.return == null ? undefined : op.output)
      return legal && search(remaining.filter((j) => j !== i), next)
    })
  }
  return Array.from(byKey.values()).every((ops) => search(ops, Kv.model.initial))
}

const smallHistory: fc.Arbitrary<Kv.History> = fc.array(
  fc.record({
    client: fc.integer({ min: 0, max: 3 }),
    op: fc.constantFrom("get", "put", "append"),
    key: fc.constantFrom("x", "y"),
    value: fc.constantFrom("a", "b"),
    output: fc.constantFrom("", "a", "b", "ab", "ba", "aa"),
    call: fc.integer({ min: 0, max: 8 }),
    length: fc.integer({ min: 0, max: 4 }),
    pending: fc.integer({ min: 0, max: 9 }).map((n) => n < 2)
  }).map((o): Kv.Operation => {
    const input: Kv.KvInput = o.op === "get"
      ? { op: "get", key: o.key }
      : { op: o.op as "put" | "append", key: o.key, value: o.value }
    return o.pending
      ? { clientId: o.client, input, call: o.call }
      : {
        clientId: o.client,
        input,
        output: o.op === "get" ? { value: o.output } : {},
        call: o.call,
        return: o.call + o.length
      }
  }),
  { minLength: 1, maxLength: 7 }
)

describe("properties", () => {
  it("histories generated from a sequential execution with random overlaps are Ok", () => {
    fc.assert(
      fc.property(generated, (options) => {
        const { history } = linearizableKv(options)
        const result = Linearizability.checkHistory(Kv.model, history, { maxSteps: 5_000_000 })
        expect(result._tag).toBe("Ok")
        // Each partition's linearization is a real one.
        for (const p of result.partitions) {
          expect([...p.longest].sort((a, b) => a - b)).toEqual([...p.ops].sort((a, b) => a - b))
          expect(respectsRealTime(history, p.longest)).toBe(true)
          expect(replay(history, p.longest)).toBeDefined()
        }
      }),
      { numRuns: 150 }
    )
  })

  it("a single corrupted output on a sequential history is Illegal, exactly there", () => {
    const sequential = generated.map((o) => ({ ...o, overlap: 0, pending: 0 }))
    fc.assert(
      fc.property(sequential, fc.nat(), (options, pick) => {
        const { history } = linearizableKv(options)
        const gets = history.flatMap((op, i) => (op.input.op === "get" ? [i] : []))
        fc.pre(gets.length > 0)
        const bad = gets[pick % gets.length]!
        const corrupted = history.map((op, i) =>
          i === bad ? { ...op, output: { value: `${op.output?.value ?? ""}!` } } : op
        )
        const result = Linearizability.checkHistory(Kv.model, corrupted)
        expect(result._tag).toBe("Illegal")
        const [p] = Linearizability.illegalPartitions(result)
        expect(p!.label).toBe(history[bad]!.input.key)
        expect(p!.failure!.blocking).toBe(bad)
        expect(p!.failure!.attempts).toEqual([bad])
        // Its prefix is everything on that key before the corrupted read.
        expect(p!.longest).toEqual(p!.ops.filter((i) => i < bad))
      }),
      { numRuns: 150 }
    )
  })

  it("agrees with brute force on small random histories, with valid linearizations and failures", () => {
    fc.assert(
      fc.property(smallHistory, (history) => {
        const result = Linearizability.checkHistory(Kv.model, history)
        expect(result._tag).toBe(bruteForce(history) ? "Ok" : "Illegal")
        for (const p of result.partitions) {
          expect(respectsRealTime(history, p.longest)).toBe(true)
          expect(prefixClosed(history, p.ops, p.longest)).toBe(true)
          const state = replay(history, p.longest)
          expect(state).toBeDefined()
          if (p.status === "Illegal") {
            const f = p.failure!
            expect(Kv.model.equals!(f.state, state!)).toBe(true)
            expect(p.ops).toContain(f.blocking)
            expect(p.longest).not.toContain(f.blocking)
            for (const i of f.attempts) {
              const op = history[i]!
              expect(Kv.model.step(f.state, op.input, op.return == null ? undefined : op.output)[0]).toBe(false)
            }
          }
        }
      }),
      { numRuns: 1500 }
    )
  })

  it("a partition's verdict does not depend on the other partitions", () => {
    fc.assert(
      fc.property(smallHistory, smallHistory, (a, b) => {
        const both = [...a, ...b.map((op) => ({ ...op, input: { ...op.input, key: `other-${op.input.key}` } }))]
        const together = Linearizability.checkHistory(Kv.model, both)
        const alone = Linearizability.checkHistory(Kv.model, a)
        for (const p of alone.partitions) {
          expect(together.partitions.find((q) => q.label === p.label)!.status).toBe(p.status)
        }
      }),
      { numRuns: 200 }
    )
  })

  it("the step budget makes the search deterministic", () => {
    fc.assert(
      fc.property(smallHistory, fc.integer({ min: 1, max: 40 }), (history, maxSteps) => {
        const a = Linearizability.checkHistory(Kv.model, history, { maxSteps, sliceSteps: 3 })
        const b = Linearizability.checkHistory(Kv.model, history, { maxSteps, sliceSteps: 3 })
        expect(b).toEqual(a)
        expect(a.steps).toBeLessThanOrEqual(maxSteps)
      }),
      { numRuns: 200 }
    )
  })
})
