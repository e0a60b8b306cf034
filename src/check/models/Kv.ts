/**
 * The 6.824 key/value model (SPEC-6824 §3.6): Get, Put and Append on string keys and values.
 *
 * Each key is an independent register holding a string, initially "", so the history is partitioned
 * by key (in sorted key order) and every key is checked on its own. Get is legal iff its output equals
 * the state (a missing key reads as ""), Put replaces the state, Append concatenates. A Get that never
 * returned is legal anywhere and changes nothing; a Put or Append that never returned may take effect
 * at any time after its call, or never.
 *
 * The model has a lookahead: a value is a dead end when the next read (the first get to return among
 * the remaining operations) returned something that neither starts with the value nor with a put that
 * may still come before that read, because appends only extend a value. Without it, concurrent
 * appends observed by one later read (6.824's UnreliableOneKey: 50 appends, one get) make the search
 * try every interleaving; with it, each append is placed where the read says.
 * @since 0.1.0
 */
import { Either, Schema } from "effect"
import type { History as GenericHistory, Operation as GenericOperation } from "../History.js"
import { decoder, type JsonlError, must } from "../internal/jsonl.js"
import {
  type Model,
  type PartitionOperation,
  partitionBy,
  type PruneRules,
  type Pruning,
  type Remaining
} from "../Model.js"

export type KvOp = "get" | "put" | "append"

export interface KvInput {
  readonly op: KvOp
  readonly key: string
  /** The argument of put and append; absent for get. */
  readonly value?: string | undefined
}

export interface KvOutput {
  /** What a get returned ("" for a missing key); absent for put and append. */
  readonly value?: string | undefined
}

export type Operation = GenericOperation<KvInput, KvOutput>
export type History = GenericHistory<KvInput, KvOutput>

// Long values (the tests append thousands of tokens to one key) are clipped in descriptions; the tail
// is kept because that is where an append history goes wrong.
const clip = (s: string): string =>
  s.length <= 120 ? s : `${s.slice(0, 40)}…(${s.length - 100} more)…${s.slice(-60)}`
const quote = (s: string): string => JSON.stringify(clip(s))

export const describeInput = (input: KvInput): string =>
  input.op === "get" ? `get(${quote(input.key)})` : `${input.op}(${quote(input.key)}, ${quote(input.value ?? "")})`

/**
 * A key's value together with a hash of it. The hash is extended one appended chunk at a time (a
 * polynomial hash computed left to right does not depend on how the string was built), so it costs
 * no more than reading the operation's own argument, and it spreads the checker's cache: without it
 * the k! orders of k concurrent appends would share one cache bucket.
 */
export interface State {
  readonly value: string
  readonly hash: number
}

const extend = (hash: number, s: string): number => {
  let h = hash
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0
  return h
}

// A value made by an append remembers what it extends, and every value remembers the last read it was
// found to be a prefix of: along a run of appends checked against the same read only the appended part
// is compared, O(suffix) rather than O(value) per step. Private fields keep the state's visible shape
// (and equality in tests, JSON) to { value, hash }.
class Value implements State {
  readonly #base: Value | undefined
  readonly #suffix: string
  #prefixOf: string | undefined = undefined

  constructor(readonly value: string, readonly hash: number, base?: Value, suffix = "") {
    this.#base = base
    this.#suffix = suffix
  }

  append(suffix: string): Value {
    return new Value(this.value + suffix, extend(this.hash, suffix), this, suffix)
  }

  isPrefixOf(read: string): boolean {
    if (this.#prefixOf === read) return true
    const base = this.#base
    const ok = base !== undefined && base.#prefixOf === read
      ? read.startsWith(this.#suffix, base.value.length)
      : read.startsWith(this.value)
    if (ok) this.#prefixOf = read
    return ok
  }
}

/** The state holding `value`. */
export const state = (value: string): State => new Value(value, extend(0, value))

// The model makes every state it handles, but accepts any `State` (say, one a caller built by hand).
const asValue = (s: State): Value => (s instanceof Value ? s : new Value(s.value, s.hash))

const empty = new Value("", 0)

// A value can still become what the next read returned: that read's value starts with it, or with a
// put that may still take effect before the read (appends only ever extend a value).
// It runs after every step of the search, so its visitor is one function and its working state lives
// in `look` (a lookahead runs to the end before another starts), not in a closure made per call.
const look = { state: empty as State, viable: true, puts: [] as Array<string> }
const lookVisit = (event: "call" | "return", input: KvInput, output: KvOutput | undefined): boolean => {
  if (event === "call") {
    if (input.op === "put") look.puts.push(input.value ?? "")
    return true
  }
  if (input.op !== "get" || output === undefined) return true
  const read = output.value ?? ""
  let viable = asValue(look.state).isPrefixOf(read)
  for (let i = 0; !viable && i < look.puts.length; i++) viable = read.startsWith(look.puts[i]!)
  look.viable = viable
  return false
}
const lookahead = (s: State, remaining: Remaining<KvInput, KvOutput>): boolean => {
  look.state = s
  look.viable = true
  look.puts.length = 0
  remaining.forEach(lookVisit)
  const viable = look.viable
  look.state = empty
  look.puts.length = 0
  return viable
}

// ---------------------------------------------------------------------------------------------------
// The pruning rules' knowledge of one key (README "Pruning"; the search side is in internal/search.ts).
//
// The outputs of the key's returned gets, distinct and sorted, are the only values a read can ever
// need. The values having a given string as prefix form one contiguous range of that sorted array,
// so a state of the pruned search carries, with its value, the range [lo, hi] of outputs its value
// is a prefix of: "is v a prefix of what read r returned" is then `lo <= rank(r) <= hi`, and "v is
// what r returned" adds equal lengths. An append narrows the range by a binary search on the appended
// part only (every output in the range already starts with v).
//
// Rule (b), dead values: a value that is a prefix of no output (an empty range) can never again be
// read: appends keep it a non-prefix, so every get that returned is illegal until a put. Every dead
// value therefore has the same future: the same operations are legal from any of them, in any order,
// until a put replaces it by the same state. `equals` and `hash` treat all dead values as one state,
// so the cache explores one of them per linearized set instead of one per value (a dead value's
// `hash` is DEAD_HASH, so that `hash` and the common case of `equals` need not ask; `extended`
// keeps the value's own hash to extend). This is how "blind"
// writes (rule c: a put whose value starts no output, an append whose value no output contains) are
// absorbed: the state after one is dead, and the orders among such writes until the next put meet in
// the cache. A never-returned get ("any output") is legal on a dead value as on a live one.
const DEAD_HASH = 0x6d2b79f5

class Ranged implements State {
  readonly hash: number
  readonly #extended: number
  readonly #lo: number
  readonly #hi: number
  readonly #merge: boolean
  constructor(readonly value: string, hash: number, lo: number, hi: number, merge: boolean) {
    this.hash = merge && lo > hi ? DEAD_HASH : hash
    this.#extended = hash
    this.#lo = lo
    this.#hi = hi
    this.#merge = merge
  }
  /** The hash of `value` (`hash` is DEAD_HASH when dead). */
  get extended(): number {
    return this.#extended
  }
  /** Dead, and merged with the other dead values (rule b on). */
  get dead(): boolean {
    return this.#merge && this.#lo > this.#hi
  }
  get lo(): number {
    return this.#lo
  }
  get hi(): number {
    return this.#hi
  }
}

const isDead = (s: State): boolean => s instanceof Ranged && s.dead

// How far the lookahead looks: every read called before the WINDOW_READS-th read to return is checked.
// One is enough for appends that one read sees (the plain lookahead); a put that bridges a read is
// rarely refuted by the next read alone, since the appends its absorbed writes hide show up later.
const WINDOW_READS = 4
const MAX_REST = 4096
const MAX_DIRECT_REST = 256
const MAX_STATIC_WORK = 2_000_000
const prune = (
  ops: ReadonlyArray<PartitionOperation<KvInput, KvOutput>>,
  rules: PruneRules
): Pruning<State, KvInput, KvOutput> => {
  const returnedRead = (i: number) => ops[i]!.input.op === "get" && ops[i]!.output !== undefined
  const outs = Array.from(new Set(ops.flatMap((op, i) => (returnedRead(i) ? [op.output!.value ?? ""] : [])))).sort()
  const rankOf = new Map(outs.map((o, k) => [o, k]))
  const rank = ops.map((op, i) => (returnedRead(i) ? rankOf.get(op.output!.value ?? "")! : -1))

  // The sub-range of outputs[lo..hi] (all starting with a string of length `off`) that continue with `a`.
  // Cutting each output to its next a.length characters keeps the sorted order, so the outputs
  // continuing with `a` are those whose cut equals `a`: between two binary searches.
  const narrow = (lo: number, hi: number, off: number, a: string): readonly [number, number] => {
    const end = off + a.length
    let l = lo
    let h = hi + 1
    while (l < h) {
      const m = (l + h) >>> 1
      if (outs[m]!.substring(off, end) < a) l = m + 1
      else h = m
    }
    const first = l
    h = hi + 1
    while (l < h) {
      const m = (l + h) >>> 1
      if (outs[m]!.substring(off, end) <= a) l = m + 1
      else h = m
    }
    return [first, l - 1]
  }
  const ranged = (value: string, hash: number, lo: number, hi: number) => new Ranged(value, hash, lo, hi, rules.dead)
  const fresh = (value: string): Ranged => {
    const [lo, hi] = narrow(0, outs.length - 1, 0, value)
    return ranged(value, extend(0, value), lo, hi)
  }
  // A put always leads to the same state: made once.
  const putState = ops.map((op) => (op.input.op === "put" ? fresh(op.input.value ?? "") : undefined))

  // Rule (b)'s lookahead: every read that returned and is still to come must find the value (or a put
  // that can still come before it) at a prefix of its output. `bridges[r]`: the puts that can precede
  // read r in real time (called no later than r returned) and whose value starts r's output.
  const bridges = ops.map((r, i) => {
    if (!returnedRead(i)) return [] as ReadonlyArray<number>
    const out: Array<number> = []
    putState.forEach((p, j) => {
      if (p !== undefined && p.lo <= rank[i]! && rank[i]! <= p.hi && ops[j]!.call <= r.return) out.push(j)
    })
    return out
  })
  const direct = (s: Ranged, r: number): boolean => s.lo <= rank[r]! && rank[r]! <= s.hi
  const anyBridge = (r: number, linearized: (op: number) => boolean): boolean => {
    for (const p of bridges[r]!) if (!linearized(p)) return true
    return false
  }
  // After the current value v (or after a put p still to come), read r can only return v (w_p)
  // followed by appends still to come that may precede r (called before r returned): the rest of its
  // output must be a concatenation of their values (each allowed any number of times: a necessary
  // condition, cheap by dynamic programming over positions). Through a put this stops the search
  // from trying which writes a put absorbs when one of them is a write the read shows after the put;
  // directly it refutes a read no remaining append can complete, at once rather than after every
  // order of what precedes it. Long rests are not examined (then the read is taken as reachable): up
  // to MAX_REST characters through a put, MAX_DIRECT_REST directly (checked at every step).
  const appendValue = ops.map((op) => (op.input.op === "append" ? op.input.value ?? "" : ""))
  const composes = (o: string, start: number, appends: ReadonlyArray<number>, limit: number): boolean => {
    const len = o.length - start
    if (len === 0 || len > limit) return true
    const reach = new Uint8Array(len + 1)
    reach[0] = 1
    for (let i = 0; i < len; i++) {
      if (reach[i] === 0) continue
      const c = o.charCodeAt(start + i)
      for (const a of appends) {
        const v = appendValue[a]!
        if (v.charCodeAt(0) === c && i + v.length <= len && reach[i + v.length] === 0 && o.startsWith(v, start + i)) {
          if (i + v.length === len) return true
          reach[i + v.length] = 1
        }
      }
    }
    return false
  }
  const reachable = (
    s: Ranged,
    r: number,
    appends: ReadonlyArray<number>,
    linearized: (op: number) => boolean
  ): boolean => {
    const o = ops[r]!.output!.value ?? ""
    if (direct(s, r) && composes(o, s.value.length, appends, MAX_DIRECT_REST)) return true
    for (const p of bridges[r]!) {
      if (!linearized(p) && composes(o, (ops[p]!.input.value ?? "").length, appends, MAX_REST)) return true
    }
    return false
  }

  // A read no order can satisfy, whatever is linearized: its output is not the initial "" or a put
  // that may precede it, followed by a concatenation of appends that may precede it. Then no state is
  // viable, the root included. The same dynamic programming as above with every append called before
  // the read returned, bucketed by first character; bounded work (beyond it, reads are not examined).
  const byFirst = new Map<number, Array<number>>()
  ops.forEach((_, i) => {
    if (appendValue[i] === "") return
    const c = appendValue[i]!.charCodeAt(0)
    const list = byFirst.get(c)
    if (list === undefined) byFirst.set(c, [i])
    else list.push(i)
  })
  for (const list of byFirst.values()) list.sort((x, y) => ops[x]!.call - ops[y]!.call)
  let work = 0
  const impossible = (r: number): boolean => {
    const o = ops[r]!.output!.value ?? ""
    const ret = ops[r]!.return
    const reach = new Uint8Array(o.length + 1)
    reach[0] = 1
    for (const p of bridges[r]!) reach[(ops[p]!.input.value ?? "").length] = 1
    for (let i = 0; i < o.length; i++) {
      if (reach[i] === 0) continue
      for (const a of byFirst.get(o.charCodeAt(i)) ?? []) {
        if (ops[a]!.call > ret) break
        if (++work > MAX_STATIC_WORK) return false
        const v = appendValue[a]!
        if (reach[i + v.length] === 0 && o.startsWith(v, i)) reach[i + v.length] = 1
      }
    }
    return reach[o.length] === 0
  }
  const refuted = ops.some((_, i) => rank[i]! >= 0 && impossible(i))

  // Rule (c): a write that never returned and that no read can have seen. An output that is a prefix of
  // another adds nothing to "contains", so only the maximal outputs are searched (joined by a separator:
  // a match across it only makes a write look seen, which is the safe side).
  const maximal = outs.filter((o, k) => k + 1 === outs.length || !outs[k + 1]!.startsWith(o)).join("\u0000")
  const unseen = (i: number): boolean => {
    const { input } = ops[i]!
    if (input.op === "get") return true
    const v = input.value ?? ""
    return input.op === "put" ? putState[i]!.lo > putState[i]!.hi : v === "" || !maximal.includes(v)
  }
  const postponed = ops.map((op, i) => op.output === undefined && op.return === Number.POSITIVE_INFINITY && unseen(i))
  const blind = ops.map((op, i) => op.input.op !== "get" && (op.input.value ?? "") !== "" && unseen(i))

  return {
    initial: fresh(""),
    step: (state, i) => {
      const s = state as Ranged
      const { input } = ops[i]!
      switch (input.op) {
        case "get": {
          if (ops[i]!.output === undefined) return [true, s]
          const k = rank[i]!
          return [s.lo <= k && k <= s.hi && s.value.length === outs[k]!.length, s]
        }
        case "put":
          return [true, putState[i]!]
        case "append": {
          const a = input.value ?? ""
          if (a === "") return [true, s]
          if (s.lo > s.hi) return [true, ranged(s.value + a, extend(s.extended, a), 1, 0)]
          const [lo, hi] = narrow(s.lo, s.hi, s.value.length, a)
          return [true, ranged(s.value + a, extend(s.extended, a), lo, hi)]
        }
      }
    },
    isRead: (i) => ops[i]!.input.op === "get" || (ops[i]!.input.op === "append" && (ops[i]!.input.value ?? "") === ""),
    postpone: (i) => postponed[i]!,
    blind: (i) => blind[i]!,
    overwrites: (i) => ops[i]!.input.op === "put",
    // Every read called before the WINDOW_READS-th remaining read returns must be reachable: directly (the value
    // is a prefix of its output), or through a put still to come (checked at the read's return event,
    // once the appends that may precede it have been seen).
    viable: (state, remaining, linearized) => {
      if (refuted) return false
      const s = state as Ranged
      let ok = true
      let window = true
      let readReturns = 0
      let waiting = 0
      const reads: Array<number> = []
      const appends: Array<number> = []
      remaining.forEach((event, input, _output, i) => {
        if (event === "call") {
          if (window && rank[i]! >= 0) {
            if (!direct(s, i) && !anyBridge(i, linearized)) ok = false
            reads.push(i)
            waiting++
          }
          if (input.op === "append" && appendValue[i] !== "") appends.push(i)
          return ok
        }
        // The window ends at the WINDOW_READS-th read to return: every read called before then is
        // checked (checking any remaining read is sound; these are the ones that constrain the next
        // steps), each at its return event, once every append that may precede it has been seen.
        if (rank[i]! >= 0 && ++readReturns >= WINDOW_READS) window = false
        if (waiting > 0 && reads.includes(i)) {
          waiting--
          if (!reachable(s, i, appends, linearized)) ok = false
        }
        return ok && (window || waiting > 0)
      })
      return ok
    }

  }
}

/** The KV model. States compare by value (plain string equality). */
export const model: Model<State, KvInput, KvOutput> = {
  name: "kv",
  initial: empty,
  step: (s, input, output) => {
    switch (input.op) {
      case "get":
        return [output === undefined || (output.value ?? "") === s.value, s]
      case "put":
        return [true, new Value(input.value ?? "", extend(0, input.value ?? ""))]
      case "append": {
        const suffix = input.value ?? ""
        return [true, suffix === "" ? s : asValue(s).append(suffix)]
      }
    }
  },
  // All dead values of the pruned search are one state (rule b above); the plain search makes none.
  // (Dead states all hash to DEAD_HASH, so two of them have equal hashes.)
  equals: (a, b) => a === b || (a.hash === b.hash && (a.value === b.value || (isDead(a) && isDead(b)))),
  hash: (s) => s.hash,
  prune,
  partition: partitionBy((input: KvInput) => input.key),
  describeInput,
  describeOutput: (output) => quote(output.value ?? ""),
  describeOperation: (input, output) =>
    input.op !== "get"
      ? describeInput(input)
      : `${describeInput(input)} → ${output === undefined ? "?" : quote(output.value ?? "")}`,
  describeState: (s) => quote(s.value),
  lookahead
}

/** Builds a KV operation; `output`/`returnTime` undefined means it never returned. */
export const operation = (
  clientId: number,
  input: KvInput,
  call: number,
  returnTime: number | undefined,
  output?: KvOutput
): Operation => ({ clientId, input, output, call, return: returnTime })

// ---------------------------------------------------------------------------------------------------
// JSON Lines: the `concord check` file format, one operation per line:
//   {"client": 3, "op": "get"|"put"|"append", "key": "k", "value": "v", "output": "...", "call": 1, "return": 2}
// `value` is absent for get, `output` absent for put and append; `return` null or absent: never returned.

export { JsonlError } from "../internal/jsonl.js"

/** Parses a JSONL history (blank lines are skipped). */
export const decodeJsonl: (text: string) => Either.Either<History, JsonlError> = decoder({
  fields: {
    op: must(Schema.Literal("get", "put", "append"), `"get", "put" or "append"`),
    key: must(Schema.String, "a string"),
    value: Schema.optional(must(Schema.String, "a string")),
    output: Schema.optional(must(Schema.String, "a string"))
  },
  operation: (l, returned) => {
    if (l.op === "get" && l.value !== undefined) return Either.left(`get takes no "value"`)
    if (l.op !== "get" && l.value === undefined) return Either.left(`${l.op} needs a "value"`)
    if (l.op !== "get" && l.output !== undefined) return Either.left(`${l.op} has no "output"`)
    if (l.op === "get" && returned && l.output === undefined) return Either.left(`get returned but has no "output"`)
    const input: KvInput = l.op === "get" ? { op: "get", key: l.key } : { op: l.op, key: l.key, value: l.value! }
    const output: KvOutput = l.op === "get" ? { value: l.output! } : {}
    return Either.right({ input, output })
  }
})

/** Writes a history as JSONL (the inverse of `decodeJsonl`), e.g. to re-check a failed test's history. */
export const encodeJsonl = (history: History): string =>
  history.map((op) => {
    const pending = op.return === undefined || op.return === null
    return JSON.stringify({
      client: op.clientId,
      op: op.input.op,
      key: op.input.key,
      ...(op.input.op === "get" ? {} : { value: op.input.value ?? "" }),
      ...(op.input.op === "get" && !pending ? { output: op.output?.value ?? "" } : {}),
      call: op.call,
      return: pending ? null : op.return
    }) + "\n"
  }).join("")
