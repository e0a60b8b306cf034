/**
 * A brute-force oracle for small KV histories, independent of the checker's search: it enumerates
 * every order of the operations that is consistent with real time, each never-returned operation
 * either placed at some point after its call or left out, and says whether one of them is legal for
 * the KV model. It does not partition by key (the state is the whole map), so it also checks the
 * checker's P-compositionality. The only shortcut is remembering the (placed set, state) pairs from
 * which no order worked, which cannot change the answer of a deterministic model.
 */
import { returnTime } from "../../../src/check/History.js"
import * as Kv from "../../../src/check/models/Kv.js"

/** Whether some real-time-consistent order of `history` is legal; histories up to ~20 operations. */
export const bruteForce = (history: Kv.History): boolean => {
  const n = history.length
  if (n > 30) throw new Error("bruteForce: history too long")
  const pending = history.map((op) => op.return === undefined || op.return === null)
  // Bit masks: which operations must be placed before operation i (they returned before it was invoked).
  const before = history.map((op) => {
    let m = 0
    history.forEach((other, j) => {
      if (!pending[j] && returnTime(other) < op.call) m |= 1 << j
    })
    return m
  })
  let mustPlace = 0
  pending.forEach((p, i) => {
    if (!p) mustPlace |= 1 << i
  })
  const failed = new Set<string>()
  const keys = Array.from(new Set(history.map((op) => op.input.key))).sort()
  // placed: operations placed so far; skipped: never-returned operations left out.
  const search = (placed: number, skipped: number, state: ReadonlyMap<string, string>): boolean => {
    if ((placed & mustPlace) === mustPlace) return true
    const memo = `${placed}/${skipped}/${keys.map((k) => JSON.stringify(state.get(k) ?? "")).join(",")}`
    if (failed.has(memo)) return false
    for (let i = 0; i < n; i++) {
      const bit = 1 << i
      if ((placed | skipped) & bit) continue
      if ((before[i]! & placed) !== before[i]!) continue
      const op = history[i]!
      const [legal, next] = Kv.model.step(
        Kv.state(state.get(op.input.key) ?? ""),
        op.input,
        pending[i] ? undefined : op.output
      )
      if (legal) {
        const after = new Map(state).set(op.input.key, next.value)
        if (search(placed | bit, skipped, after)) return true
      }
      // A never-returned operation may also never take effect.
      if (pending[i] && search(placed, skipped | bit, state)) return true
    }
    failed.add(memo)
    return false
  }
  return search(0, 0, new Map())
}

/**
 * Whether `order` (history indices of one partition's operations) is a linearization of them: every
 * operation once, real time respected, and every step legal for the KV model.
 */
export const isLinearization = (history: Kv.History, ops: ReadonlyArray<number>, order: ReadonlyArray<number>): boolean => {
  if (order.length !== ops.length || new Set(order).size !== ops.length || !order.every((i) => ops.includes(i))) return false
  for (let a = 0; a < order.length; a++) {
    for (let b = a + 1; b < order.length; b++) {
      if (returnTime(history[order[b]!]!) < history[order[a]!]!.call) return false
    }
  }
  let state = Kv.model.initial
  for (const i of order) {
    const op = history[i]!
    const [legal, next] = Kv.model.step(state, op.input, op.return === undefined || op.return === null ? undefined : op.output)
    if (!legal) return false
    state = next
  }
  return true
}
