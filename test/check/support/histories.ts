/**
 * Generated KV histories for tests and the benchmark: a real sequential execution, with each
 * operation's interval stretched around its linearization point, so the result is linearizable by
 * construction while clients overlap.
 */
import type * as Kv from "../../../src/check/models/Kv.js"

/** A small seeded PRNG (mulberry32): test data must replay from a seed. */
export const prng = (seed: number) => {
  let a = seed | 0
  const next = () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return { next, int: (n: number) => Math.floor(next() * n) }
}

export interface GenerateOptions {
  readonly ops: number
  readonly keys: number
  readonly clients: number
  /** How far (in time units) a call may precede, and a return follow, the linearization point. 0: sequential. */
  readonly overlap: number
  readonly seed: number
  /** Probability that an operation never returns (its client then stops; a fresh client replaces it). */
  readonly pending?: number
  /** Probabilities of get and put; the rest are appends. */
  readonly get?: number
  readonly put?: number
}

export interface Generated {
  readonly history: Array<Kv.Operation>
  /** Linearization points, parallel to `history`. */
  readonly points: ReadonlyArray<number>
  /** Whether each operation took effect (false only for some that never returned). */
  readonly applied: ReadonlyArray<boolean>
}

export const linearizableKv = (o: GenerateOptions): Generated => {
  const rng = prng(o.seed)
  const state = new Map<string, string>()
  const history: Array<Kv.Operation> = []
  const points: Array<number> = []
  const appliedOps: Array<boolean> = []
  const free: Array<number> = Array.from({ length: o.clients }, () => 0)
  const ids: Array<number> = Array.from({ length: o.clients }, (_, i) => i)
  let nextId = o.clients
  let t = 0
  const pGet = o.get ?? 0.5
  const pPut = o.put ?? 0.25
  for (let i = 0; i < o.ops; i++) {
    t += 1 + rng.int(3)
    let ready = free.map((f, c) => (f <= t ? c : -1)).filter((c) => c >= 0)
    if (ready.length === 0) {
      t = Math.min(...free)
      ready = free.map((f, c) => (f <= t ? c : -1)).filter((c) => c >= 0)
    }
    const c = ready[rng.int(ready.length)]!
    const call = Math.max(free[c]!, t - rng.int(o.overlap + 1))
    const ret = t + rng.int(o.overlap + 1)
    const key = `k${rng.int(o.keys)}`
    const pending = o.pending !== undefined && rng.next() < o.pending
    // A pending operation took effect at its point or never: both are linearizable.
    const applies = !pending || rng.next() < 0.5
    const r = rng.next()
    const current = state.get(key) ?? ""
    let input: Kv.KvInput
    let output: Kv.KvOutput
    if (r < pGet) {
      input = { op: "get", key }
      output = { value: current }
    } else if (r < pGet + pPut) {
      input = { op: "put", key, value: `v${i}` }
      output = {}
      if (applies) state.set(key, `v${i}`)
    } else {
      input = { op: "append", key, value: `x ${ids[c]} ${i} y;` }
      output = {}
      if (applies) state.set(key, current + input.value)
    }
    history.push(
      pending
        ? { clientId: ids[c]!, input, output: undefined, call, return: undefined }
        : { clientId: ids[c]!, input, output, call, return: ret }
    )
    points.push(t)
    appliedOps.push(applies)
    if (pending) {
      ids[c] = nextId++
      free[c] = t + 1
    } else {
      free[c] = ret + 1
    }
  }
  return { history, points, applied: appliedOps }
}
