/**
 * A single read/write register with compare-and-set: the smallest model that is not a key/value store.
 * @since 0.1.0
 */
import { Either, Equal, Hash, Schema } from "effect"
import type { History } from "../History.js"
import { decoder, type JsonlError, type LineOperation, must } from "../internal/jsonl.js"
import type { Model } from "../Model.js"

export type RegisterInput<A> =
  | { readonly op: "read" }
  | { readonly op: "write"; readonly value: A }
  | { readonly op: "cas"; readonly expected: A; readonly value: A }

export interface RegisterOutput<A> {
  /** What a read returned. */
  readonly value?: A | undefined
  /** Whether a cas swapped. */
  readonly ok?: boolean | undefined
}

export interface RegisterOptions<A> {
  readonly initial: A
  readonly equals?: (a: A, b: A) => boolean
  /** Consistent with `equals`; default `Hash.hash` when `equals` is the default, else none. */
  readonly hash?: (a: A) => number
  readonly describe?: (a: A) => string
}

/** A register of `A`s; values are compared with `equals` (default `Equal.equals`). */
export const make = <A>(options: RegisterOptions<A>): Model<A, RegisterInput<A>, RegisterOutput<A>> => {
  const eq = options.equals ?? Equal.equals
  const show = options.describe ?? ((a: A) => JSON.stringify(a) ?? String(a))
  return {
    name: "register",
    initial: options.initial,
    step: (state, input, output) => {
      switch (input.op) {
        case "read":
          return [output === undefined || (output.value !== undefined && eq(output.value, state)), state]
        case "write":
          return [true, input.value]
        case "cas": {
          const swaps = eq(state, input.expected)
          // An unknown outcome is legal either way; the state follows from the model.
          const legal = output === undefined || output.ok === undefined || output.ok === swaps
          return [legal, swaps ? input.value : state]
        }
      }
    },
    equals: eq,
    ...(options.hash !== undefined ? { hash: options.hash } : options.equals === undefined ? { hash: Hash.hash } : {}),
    describeInput: (input) =>
      input.op === "read"
        ? "read()"
        : input.op === "write"
        ? `write(${show(input.value)})`
        : `cas(${show(input.expected)}, ${show(input.value)})`,
    describeOutput: (output) =>
      output.ok !== undefined ? String(output.ok) : output.value !== undefined ? show(output.value) : "ok",
    describeState: show
  }
}

/** A register of numbers, initially 0. */
export const model: Model<number, RegisterInput<number>, RegisterOutput<number>> = make({
  initial: 0,
  equals: (a, b) => a === b,
  hash: Hash.number
})

type NumberRegisterHistory = History<RegisterInput<number>, RegisterOutput<number>>

/**
 * Parses a JSONL history of the number register (`model`), one operation per line (see `concord check`):
 *   {"client": 0, "op": "write", "value": 3, "call": 0, "return": 5}
 *   {"client": 1, "op": "read", "output": 3, "call": 2, "return": 6}
 *   {"client": 2, "op": "cas", "expected": 3, "value": 4, "output": true, "call": 7, "return": 9}
 * `output` is what a read returned, or whether a cas swapped; absent for a write and for an operation
 * that never returned (`return` null or absent).
 */
export const decodeJsonl: (text: string) => Either.Either<NumberRegisterHistory, JsonlError> =
  decoder({
    fields: {
      op: must(Schema.Literal("read", "write", "cas"), `"read", "write" or "cas"`),
      value: Schema.optional(must(Schema.Finite, "a number")),
      expected: Schema.optional(must(Schema.Finite, "a number")),
      output: Schema.optional(must(Schema.Union(Schema.Finite, Schema.Boolean), "a number or a boolean"))
    },
    operation: (l, returned): LineOperation<RegisterInput<number>, RegisterOutput<number>> => {
      const no = (what: string) => Either.left(what)
      switch (l.op) {
        case "read":
          if (l.value !== undefined || l.expected !== undefined) return no(`read takes no "value" or "expected"`)
          if (returned && typeof l.output !== "number") return no(`a read that returned needs a number "output"`)
          return Either.right({ input: { op: "read" }, output: { value: l.output as number } })
        case "write":
          if (l.value === undefined) return no(`write needs a "value"`)
          if (l.expected !== undefined || l.output !== undefined) return no(`write takes no "expected" or "output"`)
          return Either.right({ input: { op: "write", value: l.value }, output: {} })
        case "cas":
          if (l.value === undefined || l.expected === undefined) return no(`cas needs "expected" and "value"`)
          if (returned && typeof l.output !== "boolean") return no(`a cas that returned needs "output": true or false`)
          return Either.right({
            input: { op: "cas", expected: l.expected, value: l.value },
            output: { ok: l.output as boolean }
          })
      }
    }
  })
