/**
 * The history of clients' operations in a simulated cluster, and its linearizability check, for the
 * public test kit (`SimCluster`, `SimShards`). Times are the cluster's clock in milliseconds made
 * strict by an event counter (order within one instant: under the TestClock or with no network
 * latency many operations share an instant). An operation that did not return (the caller's timeout,
 * an interruption) stays pending: it may or may not have taken effect. The check is synchronous and
 * bounded by search steps, not by time: neither clock of a test moves while it runs.
 */
import { Clock, Data, Effect, Exit } from "effect"
import type * as History from "../../check/History.js"
import type * as KvModel from "../../check/models/Kv.js"
import type { KvError, KvOperations } from "../../kv/KvClient.js"
import * as Linearizability from "../../check/Linearizability.js"
import type { Model } from "../../check/Model.js"

/** The recorded history is not linearizable, or the checker's step budget ran out first. */
export class NotLinearizable extends Data.TaggedError("NotLinearizable")<{
  /** "Illegal": no legal order exists; "Unknown": the budget (`maxSteps`) ran out. */
  readonly verdict: "Illegal" | "Unknown"
  /** `Linearizability.explain`: a summary line, then where the first illegal partition fails. */
  readonly explanation: string
}> {
  override get message() {
    return this.explanation
  }
}

/** Options of `checkLinearizable`. */
export interface CheckOptions {
  /** The checker's budget in search steps (deterministic); beyond it the check fails as Unknown. Default 10,000,000. */
  readonly maxSteps?: number
}

export interface Recorder<I, O> {
  readonly history: Array<History.Operation<I, O>>
  /**
   * Runs `op` as client lane `client`'s `input`. A success records its output; a failure for which
   * `tookNoEffect` holds is not recorded; any other end (timeout, interruption, defect) leaves the
   * operation pending.
   */
  readonly record: <A, E, R>(
    client: number,
    input: I,
    op: Effect.Effect<A, E, R>,
    output: (a: A) => O,
    tookNoEffect?: (e: E) => boolean
  ) => Effect.Effect<A, E, R>
  readonly check: <S>(model: Model<S, I, O>, options?: CheckOptions) => Effect.Effect<void, NotLinearizable>
}

export const make = <I, O>(): Recorder<I, O> => {
  const history: Array<History.Operation<I, O>> = []
  let events = 0
  const stamp = Effect.map(Clock.currentTimeMillis, (ms) => ms * 1_000_000 + (events++ % 1_000_000))
  return {
    history,
    record: (client, input, op, output, tookNoEffect) =>
      Effect.flatMap(stamp, (call) =>
        Effect.onExit(op, (exit) =>
          Effect.flatMap(stamp, (ret) =>
            Effect.sync(() => {
              if (Exit.isSuccess(exit)) history.push({ clientId: client, input, output: output(exit.value), call, return: ret })
              else {
                const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
                if (failure !== undefined && tookNoEffect?.(failure) === true) return
                history.push({ clientId: client, input, call })
              }
            })
          ))),
    check: (model, options) =>
      Effect.suspend(() => {
        const result = Linearizability.checkHistory(model, history, { maxSteps: options?.maxSteps ?? 10_000_000 })
        if (Linearizability.isOk(result)) return Effect.void
        return Effect.fail(
          new NotLinearizable({
            verdict: Linearizability.isIllegal(result) ? "Illegal" : "Unknown",
            explanation: Linearizability.explain(model, history, result)
          })
        )
      })
  }
}

/**
 * A key/value clerk (`KvClient`, `ShardKvClient`) whose get, put, append and delete are recorded in
 * lane `lane` (a delete as a put of "": the model has no delete, and a missing key reads as "").
 * Refused operations (`InvalidRequest`) took no effect and are not recorded. `wrap` runs each
 * operation (with the cluster's seeded Random, say).
 */
export const recordKv = <C extends KvOperations>(
  recorder: Recorder<KvModel.KvInput, KvModel.KvOutput>,
  lane: number,
  inner: C,
  wrap: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
): C => {
  const rec = <A>(input: KvModel.KvInput, op: Effect.Effect<A, KvError>, output: (a: A) => KvModel.KvOutput) =>
    wrap(recorder.record(lane, input, op, output, (e) => e._tag === "InvalidRequest"))
  return {
    ...inner,
    get: (key, o) => rec({ op: "get", key }, inner.get(key, o), (value) => ({ value })),
    put: (key, value, o) => rec({ op: "put", key, value }, inner.put(key, value, o), () => ({})),
    append: (key, value, o) => rec({ op: "append", key, value }, inner.append(key, value, o), () => ({})),
    delete: (key, o) => rec({ op: "put", key, value: "" }, inner.delete(key, o), () => ({}))
  }
}
