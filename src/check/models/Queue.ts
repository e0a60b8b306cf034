/**
 * A FIFO queue: enqueue and dequeue, where a dequeue of an empty queue returns nothing.
 * @since 0.1.0
 */
import { Either, Equal, Hash, Schema } from "effect"
import type { History } from "../History.js"
import { decoder, type JsonlError, type LineOperation, must } from "../internal/jsonl.js"
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

type NumberQueueHistory = History<QueueInput<number>, QueueOutput<number>>

/**
 * Parses a JSONL history of the number queue (`model`), one operation per line (see `concord check`):
 *   {"client": 0, "op": "enqueue", "value": 7, "call": 0, "return": 5}
 *   {"client": 1, "op": "dequeue", "output": 7, "call": 6, "return": 8}
 *   {"client": 1, "op": "dequeue", "output": null, "call": 9, "return": 10}
 * A dequeue's `output` is what it returned, null when the queue was empty; absent for an enqueue and
 * for an operation that never returned (`return` null or absent).
 */
export const decodeJsonl: (text: string) => Either.Either<NumberQueueHistory, JsonlError> =
  decoder({
    fields: {
      op: must(Schema.Literal("enqueue", "dequeue"), `"enqueue" or "dequeue"`),
      value: Schema.optional(must(Schema.Finite, "a number")),
      output: Schema.optional(must(Schema.NullOr(Schema.Finite), "a number or null"))
    },
    operation: (l, returned): LineOperation<QueueInput<number>, QueueOutput<number>> => {
      if (l.op === "enqueue") {
        if (l.value === undefined) return Either.left(`enqueue needs a "value"`)
        if (l.output !== undefined) return Either.left(`enqueue has no "output"`)
        return Either.right({ input: { op: "enqueue", value: l.value }, output: {} })
      }
      if (l.value !== undefined) return Either.left(`dequeue takes no "value"`)
      if (returned && l.output === undefined) {
        return Either.left(`a dequeue that returned needs an "output" (null: the queue was empty)`)
      }
      return Either.right({ input: { op: "dequeue" }, output: l.output === null ? {} : { value: l.output } })
    }
  })
