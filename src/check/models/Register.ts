/**
 * A single read/write register with compare-and-set: the smallest model that is not a key/value store.
 * @since 0.1.0
 */
import { Equal, Hash } from "effect"
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
