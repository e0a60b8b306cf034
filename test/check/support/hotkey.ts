/**
 * Generated hot-key KV histories, the shape issue 14 is about: one key, 10-20 clients whose intervals
 * overlap heavily, mostly appends with some puts and gets, a few percent never returned. The history
 * comes from a simulated linearizable execution (every operation takes effect at a point inside its
 * interval; a never-returned one at a point after its call, or never), so it is linearizable by
 * construction. `twin` changes one read's output.
 */
import type * as Kv from "../../../src/check/models/Kv.js"
import { prng } from "./histories.js"

export interface HotKeyOptions {
  readonly ops: number
  readonly clients: number
  /** Probability that an operation never returns (its client stops; a fresh client id replaces it). */
  readonly pending: number
  readonly seed: number
  /**
   * Values that are prefixes of each other: appends of bare numbers ("1", "12", "123") and puts "p1",
   * "p12", so a read can be parsed in several ways. Otherwise every value ends in ";" and none is a
   * prefix of another.
   */
  readonly prefixes?: boolean
  /** Probabilities of get and put; the rest are appends. Default 0.2 and 0.05. */
  readonly get?: number
  readonly put?: number
  /** Longest interval, in time units (calls are 0-2 units after the client's previous return). Default 2 × clients. */
  readonly maxDuration?: number
}

export interface HotKey {
  readonly history: Array<Kv.Operation>
  /** Indices of the gets that returned (candidates for a twin). */
  readonly reads: ReadonlyArray<number>
}

export const hotKeyHistory = (o: HotKeyOptions): HotKey => {
  const rng = prng(o.seed)
  const pGet = o.get ?? 0.2
  const pPut = o.put ?? 0.05
  const maxDuration = o.maxDuration ?? 2 * o.clients
  const free = Array.from({ length: o.clients }, () => rng.int(3))
  const ids = Array.from({ length: o.clients }, (_, i) => i)
  let nextId = o.clients
  interface Planned {
    readonly clientId: number
    readonly input: Kv.KvInput
    readonly call: number
    readonly ret: number | undefined
    readonly point: number | undefined
  }
  const planned: Array<Planned> = []
  for (let i = 0; i < o.ops; i++) {
    // The client that is free first issues the next operation.
    let c = 0
    for (let d = 1; d < o.clients; d++) if (free[d]! < free[c]!) c = d
    const call = free[c]! + rng.int(3)
    const duration = 1 + rng.int(maxDuration)
    const pending = rng.next() < o.pending
    const r = rng.next()
    const input: Kv.KvInput = r < pGet
      ? { op: "get", key: "k" }
      : r < pGet + pPut
      ? { op: "put", key: "k", value: o.prefixes === true ? `p${i}` : `p${i};` }
      : { op: "append", key: "k", value: o.prefixes === true ? `${i}` : `${i};` }
    // Linearization points are distinct (a fraction breaks ties) and strictly inside the interval.
    const point = call + (rng.int(duration * 8) + 1 + i / o.ops) / (duration * 8 + 2) * duration
    if (pending) {
      planned.push({ clientId: ids[c]!, input, call, ret: undefined, point: rng.next() < 0.5 ? point : undefined })
      ids[c] = nextId++
      free[c] = call + 1
    } else {
      planned.push({ clientId: ids[c]!, input, call, ret: call + duration, point })
      free[c] = call + duration + 1
    }
  }
  // Execute in linearization-point order to learn what each get returned.
  const order = planned.map((_, i) => i).filter((i) => planned[i]!.point !== undefined)
    .sort((a, b) => planned[a]!.point! - planned[b]!.point!)
  const outputs = new Array<string | undefined>(planned.length)
  let value = ""
  for (const i of order) {
    const input = planned[i]!.input
    if (input.op === "get") outputs[i] = value
    else if (input.op === "put") value = input.value!
    else value += input.value!
  }
  const history: Array<Kv.Operation> = planned.map((p, i) =>
    p.ret === undefined
      ? { clientId: p.clientId, input: p.input, call: p.call }
      : { clientId: p.clientId, input: p.input, output: p.input.op === "get" ? { value: outputs[i]! } : {}, call: p.call, return: p.ret }
  )
  const reads = history.flatMap((op, i) => (op.input.op === "get" && op.return !== undefined ? [i] : []))
  return { history, reads }
}

export type TwinKind = "impossible" | "dropLast" | "otherRead"

/**
 * The history with one read's output changed:
 * - "impossible": a character no write contains is appended to it, so no state can ever equal it
 *   (Illegal by construction);
 * - "dropLast": its last character is removed (it may or may not still be linearizable);
 * - "otherRead": it returns what another read (picked by `pick`) returned.
 * Undefined when the history has no returned read.
 */
export const twin = (h: HotKey, kind: TwinKind, pick: number): Array<Kv.Operation> | undefined => {
  if (h.reads.length === 0) return undefined
  const i = h.reads[pick % h.reads.length]!
  const old = h.history[i]!.output?.value ?? ""
  const other = h.history[h.reads[(pick * 7 + 3) % h.reads.length]!]!.output?.value ?? ""
  const value = kind === "impossible" ? `${old}!` : kind === "dropLast" ? old.slice(0, -1) : other
  return h.history.map((op, j) => (j === i ? { ...op, output: { value } } : op))
}
