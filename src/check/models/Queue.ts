/**
 * A FIFO queue: enqueue and dequeue, where a dequeue of an empty queue returns nothing.
 * @since 0.1.0
 */
import { Equal, Hash } from "effect"
import type { Model } from "../Model.js"

export type QueueInput<A> = { readonly op: "enqueue"; readonly value: A } | { readonly op: "dequeue" }

export interface QueueOutput<A> {
  /** What a dequeue returned; absent when the queue was empty. */
  readonly value?: A | undefined
}

export interface QueueOptions<A> {
  readonly equals?: (a: A, b: A) => boolean
  /** Consistent with `equals`; default `Hash.hash` when `equals` is the default, else none. */
  readonly hash?: (a: A) => number
  readonly describe?: (a: A) => string
}

/** A queue of `A`s, initially empty. States are immutable arrays, front first. */
export const make = <A>(options: QueueOptions<A> = {}): Model<ReadonlyArray<A>, QueueInput<A>, QueueOutput<A>> => {
  const eq = options.equals ?? Equal.equals
  const show = options.describe ?? ((a: A) => JSON.stringify(a) ?? String(a))
  const hash = options.hash ?? (options.equals === undefined ? Hash.hash : undefined)
  return {
    name: "queue",
    initial: [],
    step: (state, input, output) => {
      if (input.op === "enqueue") return [true, [...state, input.value]]
      if (state.length === 0) return [output === undefined || output.value === undefined, state]
      return [output === undefined || (output.value !== undefined && eq(output.value, state[0]!)), state.slice(1)]
    },
    equals: (a, b) => a.length === b.length && a.every((x, i) => eq(x, b[i]!)),
    ...(hash !== undefined
      ? { hash: (s: ReadonlyArray<A>) => s.reduce((h, x) => (Math.imul(h, 31) + hash(x)) | 0, s.length) }
      : {}),
    describeInput: (input) => (input.op === "enqueue" ? `enqueue(${show(input.value)})` : "dequeue()"),
    describeOutput: (output) => (output.value === undefined ? "empty" : show(output.value)),
    describeState: (state) => `[${state.map(show).join(", ")}]`
  }
}

/** A queue of numbers. */
export const model: Model<ReadonlyArray<number>, QueueInput<number>, QueueOutput<number>> = make({
  equals: (a, b) => a === b,
  hash: Hash.number
})
