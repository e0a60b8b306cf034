/**
 * A set of strings with `take`, which removes and returns an arbitrary member. A `take` whose answer
 * is unknown (it never returned) may have removed any member: the model is nondeterministic, written
 * as a `NondeterministicModel` and checked over sets of states (`Model.nondeterministic`).
 * @since 0.1.0
 */
import { Either, Schema } from "effect"
import type { History } from "../History.js"
import { decoder, type JsonlError, type LineOperation, must } from "../internal/jsonl.js"
import { type Model, nondeterministic } from "../Model.js"

export type SetInput =
  | { readonly op: "add"; readonly value: string }
  | { readonly op: "remove"; readonly value: string }
  | { readonly op: "contains"; readonly value: string }
  | { readonly op: "take" }

export interface SetOutput {
  /** add: whether the value was new; remove: whether it was present; contains: whether it is present. */
  readonly ok?: boolean | undefined
  /** take: the member removed, absent when the set was empty. */
  readonly value?: string | undefined
}

/** States are sorted arrays without duplicates, so equal sets are equal arrays. */
export type SetState = ReadonlyArray<string>

const without = (s: SetState, v: string): SetState => s.filter((x) => x !== v)
const withValue = (s: SetState, v: string): SetState => [...s, v].sort()
const agrees = (output: SetOutput | undefined, ok: boolean) =>
  output === undefined || output.ok === undefined || output.ok === ok

export const model: Model<ReadonlyArray<SetState>, SetInput, SetOutput> = nondeterministic<
  SetState,
  SetInput,
  SetOutput
>({
  name: "set",
  initial: [[]],
  step: (state, input, output) => {
    switch (input.op) {
      case "add": {
        const present = state.includes(input.value)
        return agrees(output, !present) ? [present ? state : withValue(state, input.value)] : []
      }
      case "remove": {
        const present = state.includes(input.value)
        return agrees(output, present) ? [without(state, input.value)] : []
      }
      case "contains":
        return agrees(output, state.includes(input.value)) ? [state] : []
      case "take": {
        if (output !== undefined) {
          if (output.value === undefined) return state.length === 0 ? [state] : []
          return state.includes(output.value) ? [without(state, output.value)] : []
        }
        // Unknown answer: any member may be gone.
        return state.length === 0 ? [state] : state.map((v) => without(state, v))
      }
    }
  },
  equals: (a, b) => a.length === b.length && a.every((x, i) => x === b[i]),
  hash: (s) => {
    let h = s.length
    for (const v of s) for (let i = 0; i < v.length; i++) h = (Math.imul(h, 31) + v.charCodeAt(i)) | 0
    return h
  },
  describeInput: (input) => (input.op === "take" ? "take()" : `${input.op}(${JSON.stringify(input.value)})`),
  describeOutput: (output) =>
    output.ok !== undefined ? String(output.ok) : output.value === undefined ? "empty" : JSON.stringify(output.value),
  describeState: (s) => `{${s.map((v) => JSON.stringify(v)).join(", ")}}`
})

/**
 * Parses a JSONL history of the set (`model`), one operation per line (see `concord check`):
 *   {"client": 0, "op": "add", "value": "a", "output": true, "call": 0, "return": 5}
 *   {"client": 1, "op": "contains", "value": "a", "output": true, "call": 6, "return": 7}
 *   {"client": 2, "op": "take", "output": "a", "call": 8, "return": 9}
 * `output`: for add, remove and contains, true or false (the value was new, was present, is present);
 * for take, the member removed, null when the set was empty; absent for an operation that never
 * returned (`return` null or absent).
 */
export const decodeJsonl: (text: string) => Either.Either<History<SetInput, SetOutput>, JsonlError> = decoder({
  fields: {
    op: must(Schema.Literal("add", "remove", "contains", "take"), `"add", "remove", "contains" or "take"`),
    value: Schema.optional(must(Schema.String, "a string")),
    output: Schema.optional(
      must(Schema.Union(Schema.Boolean, Schema.String, Schema.Null), "a boolean, a string or null")
    )
  },
  operation: (l, returned): LineOperation<SetInput, SetOutput> => {
    if (l.op === "take") {
      if (l.value !== undefined) return Either.left(`take takes no "value"`)
      if (returned && !(l.output === null || typeof l.output === "string")) {
        return Either.left(`a take that returned needs a string "output" (null: the set was empty)`)
      }
      return Either.right({ input: { op: "take" }, output: typeof l.output === "string" ? { value: l.output } : {} })
    }
    if (l.value === undefined) return Either.left(`${l.op} needs a "value"`)
    if (returned && typeof l.output !== "boolean") {
      return Either.left(`${l.op} that returned needs "output": true or false`)
    }
    return Either.right({ input: { op: l.op, value: l.value }, output: { ok: l.output as boolean } })
  }
})
