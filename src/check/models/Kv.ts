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
import { type Model, partitionBy, type Remaining } from "../Model.js"

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
const lookahead = (s: State, remaining: Remaining<KvInput, KvOutput>): boolean => {
  let viable = true
  let puts: Array<string> | undefined
  remaining.forEach((event, input, output) => {
    if (event === "call") {
      if (input.op === "put") (puts ??= []).push(input.value ?? "")
      return true
    }
    if (input.op !== "get" || output === undefined) return true
    const read = output.value ?? ""
    viable = asValue(s).isPrefixOf(read) || (puts !== undefined && puts.some((p) => read.startsWith(p)))
    return false
  })
  return viable
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
  equals: (a, b) => a === b || (a.hash === b.hash && a.value === b.value),
  hash: (s) => s.hash,
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
