/**
 * A set of strings with `take`, which removes and returns an arbitrary member. A `take` whose answer
 * is unknown (it never returned) may have removed any member: the model is nondeterministic, written
 * as a `NondeterministicModel` and checked over sets of states (`Model.nondeterministic`).
 * @since 0.1.0
 */
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
