/**
 * Histories: what the clients of a concurrent system observed, as timed operations.
 *
 * An operation was invoked at `call` and answered at `return`. Two operations whose intervals overlap
 * are concurrent and may take effect in either order; an operation that returned before another was
 * invoked must take effect first. Times are plain numbers in any unit (nanoseconds, milliseconds,
 * ticks of a simulated clock): only their order matters. On equal timestamps calls come before
 * returns, so an operation invoked at the instant another returned counts as concurrent with it.
 *
 * An operation that never returned (`return` absent, `undefined` or `null`: the client crashed, timed
 * out, or the test ended first) may or may not have taken effect. Like Porcupine, the checker treats
 * its return time as +infinity and gives the model `output === undefined` ("unknown output").
 * @since 0.1.0
 */
import { Data } from "effect"

/** One operation of a history. `I` is the model's input type, `O` its output type. */
export interface Operation<I, O> {
  /** Which client issued it: one lane of the HTML view. Clients are sequential in well-formed histories. */
  readonly clientId: number
  readonly input: I
  /** What it returned; `undefined` when it never returned or its result is not known. */
  readonly output?: O | undefined
  /** Invocation time. */
  readonly call: number
  /** Response time; `undefined` or `null` when the operation never returned. */
  readonly return?: number | null | undefined
}

/** A history: operations in any order (the checker sorts them by time). */
export type History<I, O> = ReadonlyArray<Operation<I, O>>

/** A malformed history: a time that is not a number, or a return before its call. */
export class HistoryError extends Data.TaggedError("HistoryError")<{
  /** Index of the offending operation in the history. */
  readonly index: number
  readonly reason: string
}> {
  override get message() {
    return `operation ${this.index}: ${this.reason}`
  }
}

/** True when the operation never returned. */
export const isPending = <I, O>(op: Operation<I, O>): boolean => op.return === undefined || op.return === null

/** The return time, +infinity for an operation that never returned. */
export const returnTime = <I, O>(op: Operation<I, O>): number =>
  op.return === undefined || op.return === null ? Number.POSITIVE_INFINITY : op.return

/** The first malformed operation of a history, if any. Inputs and outputs are the model's business. */
export const validate = <I, O>(history: History<I, O>): HistoryError | undefined => {
  for (let i = 0; i < history.length; i++) {
    const op = history[i]!
    if (typeof op.call !== "number" || !Number.isFinite(op.call)) {
      return new HistoryError({ index: i, reason: `call time ${String(op.call)} is not a finite number` })
    }
    if (typeof op.clientId !== "number" || !Number.isFinite(op.clientId)) {
      return new HistoryError({ index: i, reason: `client id ${String(op.clientId)} is not a finite number` })
    }
    const ret = op.return
    if (ret === undefined || ret === null) continue
    if (typeof ret !== "number" || !Number.isFinite(ret)) {
      return new HistoryError({ index: i, reason: `return time ${String(ret)} is not a finite number` })
    }
    if (ret < op.call) {
      return new HistoryError({ index: i, reason: `return time ${ret} is before call time ${op.call}` })
    }
  }
  return undefined
}
