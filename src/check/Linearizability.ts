/**
 * The linearizability checker: is there a total order of a history's operations, consistent with
 * real time, in which every operation is legal for the model?
 *
 * The algorithm is Porcupine's (SPEC-6824 §3.6): partition the history (P-compositionality), then for
 * each partition a Wing–Gong / Lowe backtracking search with a cache of (linearized set, state)
 * pairs. The search is iterative (no recursion limit on long histories) and resumable; see
 * `internal/search.ts` for the data structures. For models with pruning rules (KV), the pruned search
 * adds them (`search` option; README "Pruning"): the same verdicts, hot keys decided far sooner.
 *
 * Two entry points:
 * - `checkHistory` is a plain synchronous function: no Effect runtime, no clock of its own. Its budget
 *   is explicit: `maxSteps` (deterministic: the same history and budget always give the same
 *   answer) and/or a wall-clock deadline read through a clock the caller passes (`timeoutMs` + `now`,
 *   or an `expired` predicate), plus a cap on cached states (`maxCacheEntries`) so that a hard
 *   history ends as `Unknown` instead of exhausting the heap. This is what a simulation harness calls
 *   after the simulated run, passing a real clock, since virtual time does not move during CPU work.
 * - `check` is the Effect wrapper: the deadline comes from Effect's `Clock`, and the search yields
 *   between slices of `sliceSteps`, so the fiber can be interrupted and does not starve others.
 *   Under `TestClock` or a simulated clock, time does not advance while the search computes, so a
 *   `timeout` never fires there: give such callers `maxSteps`, or run `check` on the live clock.
 *
 * Results: `Ok`, `Illegal` (some partition has no linearization) or `Unknown` (the budget ran out
 * before an answer). Every result lists all partitions, each with its status and the longest
 * linearizable prefix found (the whole linearization when Ok); an illegal partition also says where it
 * fails. In Concord's own test suites `Unknown` is a failure, not a pass.
 * @since 0.1.0
 */
import { Clock, Duration, Effect } from "effect"
import { type History, HistoryError, isPending } from "./History.js"
import { Checker } from "./internal/checker.js"
import { allRules, describeOperation, describeState, type Model, type PruneRules } from "./Model.js"

export { HistoryError }

/** Where an illegal partition stops being linearizable. */
export interface Failure<S> {
  /** The model state after the partition's longest linearizable prefix. */
  readonly state: S
  /**
   * History indices of the operations that could take effect next (invoked before `blocking`
   * returned, not in the prefix) and are illegal in `state`.
   */
  readonly attempts: ReadonlyArray<number>
  /**
   * The other operations that could take effect next: legal in `state`, but the model's `lookahead`
   * shows that nothing can follow them legally (for KV: the value would not lead to what the next read
   * returned). Empty for models without a lookahead.
   */
  readonly deadEnds: ReadonlyArray<number>
  /** History index of the first operation outside the prefix to return: it must have taken effect by then. */
  readonly blocking: number
  /** Return time of `blocking` (+infinity if it never returned): the history is illegal by this time. */
  readonly time: number
}

/** One partition's outcome. */
export interface PartitionResult<S> {
  /** The partition's label (the key, for the KV model; "" when the model does not partition). */
  readonly label: string
  /** History indices of its operations. */
  readonly ops: ReadonlyArray<number>
  readonly status: PartitionStatus
  /**
   * History indices in linearization order: a full linearization when `Ok`; otherwise the longest
   * linearizable prefix the search reached.
   */
  readonly longest: ReadonlyArray<number>
  /** Present when `Illegal`. */
  readonly failure?: Failure<S>
  /** Search steps spent on this partition. */
  readonly steps: number
}

/** "Unknown": the budget ran out before the partition was decided. */
export type PartitionStatus = "Ok" | "Illegal" | "Unknown"

interface ResultBase<S> {
  /** Every partition, in the model's partition order. */
  readonly partitions: ReadonlyArray<PartitionResult<S>>
  /** Search steps taken in total. */
  readonly steps: number
}

/** Every partition is linearizable. */
export interface Ok<S> extends ResultBase<S> {
  readonly _tag: "Ok"
}

/** At least one partition is not linearizable (partitions cut short by the budget are `Unknown`). */
export interface Illegal<S> extends ResultBase<S> {
  readonly _tag: "Illegal"
}

/** The budget ran out before every partition was decided, and none was found illegal. */
export interface Unknown<S> extends ResultBase<S> {
  readonly _tag: "Unknown"
  /** Which budget ran out: time, steps, or the number of cached states (memory). */
  readonly reason: UnknownReason
}

export type UnknownReason = "timeout" | "steps" | "memory"

export type CheckResult<S> = Ok<S> | Illegal<S> | Unknown<S>

export const isOk = <S>(result: CheckResult<S>): result is Ok<S> => result._tag === "Ok"
export const isIllegal = <S>(result: CheckResult<S>): result is Illegal<S> => result._tag === "Illegal"
export const isUnknown = <S>(result: CheckResult<S>): result is Unknown<S> => result._tag === "Unknown"

/**
 * Which search: `"plain"` is Porcupine's; `"pruned"` adds the model's pruning rules (`Model.prune`:
 * README "Pruning"), the same verdicts on every history, decided far sooner on hot keys but with a
 * setup and more work per step; `"auto"`, the default, runs the plain search on each partition for
 * about four steps per operation and then, if it is still undecided and the model has pruning rules
 * (KV), the pruned search from scratch. For a model without rules, every mode is the plain search.
 */
export type SearchMode = "auto" | "pruned" | "plain"

const rulesFor = (options: { readonly search?: SearchMode; readonly rules?: Partial<PruneRules> }) =>
  (options.search ?? "auto") === "plain" ? undefined : { ...allRules, ...options.rules }
const isAuto = (options: { readonly search?: SearchMode }) => (options.search ?? "auto") === "auto"

/** Budget of the synchronous checker. With none of these it runs until it has an answer. */
export interface CheckOptions {
  /** Default `"auto"`. */
  readonly search?: SearchMode
  /** For tests and measurements: turn single pruning rules off (all are on by default). */
  readonly rules?: Partial<PruneRules>
  /** At most this many search steps in total (deterministic). */
  readonly maxSteps?: number
  /** Wall-clock budget in the unit of `now` (milliseconds for `performance.now`); needs `now`. */
  readonly timeoutMs?: number
  /** The clock for `timeoutMs`, e.g. `() => performance.now()`. */
  readonly now?: () => number
  /** A deadline of the caller's own: polled between slices; the check stops once it returns true. */
  readonly expired?: () => boolean
  /** Steps per slice: how often the deadline is polled and how finely partitions interleave. */
  readonly sliceSteps?: number
  /**
   * At most this many cached (set, state) pairs held at once, checked between slices; default
   * 10,000,000 (roughly 1 GB with KV states). Hard histories fill the cache at millions of entries a
   * second; this turns them into `Unknown` instead of exhausting the heap.
   */
  readonly maxCacheEntries?: number
}

/** Budget of the Effect checker. */
export interface EffectCheckOptions {
  /** As in `CheckOptions`; default `"auto"`. */
  readonly search?: SearchMode
  /** As in `CheckOptions`. */
  readonly rules?: Partial<PruneRules>
  /** Wall-clock budget, measured with Effect's `Clock`. Default: none. */
  readonly timeout?: Duration.DurationInput
  /** At most this many search steps in total (deterministic). */
  readonly maxSteps?: number
  /** Steps between clock reads and yields. */
  readonly sliceSteps?: number
  /** As in `CheckOptions`. */
  readonly maxCacheEntries?: number
}

const DEFAULT_SLICE_STEPS = 20_000
// Effect's scheduler runs yielded fibers as microtasks and lets timers and signals in only every few
// thousand yields, so the Effect checker yields more often to stay responsive to interruption.
const DEFAULT_EFFECT_SLICE_STEPS = 2_000
const DEFAULT_MAX_CACHE_ENTRIES = 10_000_000

const makeExpired = (options: CheckOptions): () => boolean => {
  const { expired, now, timeoutMs } = options
  if (timeoutMs === undefined) return expired ?? (() => false)
  if (now === undefined) {
    throw new TypeError("checkHistory: timeoutMs needs a clock: pass now, e.g. () => performance.now()")
  }
  const start = now()
  const timedOut = () => now() - start >= timeoutMs
  return expired === undefined ? timedOut : () => timedOut() || expired()
}

const toResult = <S, I, O>(checker: Checker<S, I, O>, reason: UnknownReason | undefined): CheckResult<S> => {
  const partitions = checker.partitionResults()
  const steps = checker.steps
  if (checker.illegal()) return { _tag: "Illegal", partitions, steps }
  if (!checker.done) return { _tag: "Unknown", reason: reason ?? "steps", partitions, steps }
  return { _tag: "Ok", partitions, steps }
}

/**
 * Checks a history against a model, synchronously, within the given budget.
 * Throws `HistoryError` on a malformed history (a time that is not a number, a return before its call).
 */
export const checkHistory = <S, I, O>(
  model: Model<S, I, O>,
  history: History<I, O>,
  options: CheckOptions = {}
): CheckResult<S> => {
  const checker = new Checker(history, model, rulesFor(options), isAuto(options))
  const expired = makeExpired(options)
  const slice = Math.max(1, options.sliceSteps ?? DEFAULT_SLICE_STEPS)
  const maxCache = options.maxCacheEntries ?? DEFAULT_MAX_CACHE_ENTRIES
  let stepsLeft = options.maxSteps ?? Number.POSITIVE_INFINITY
  while (!checker.done) {
    if (stepsLeft <= 0) return toResult(checker, "steps")
    if (expired()) return toResult(checker, "timeout")
    if (checker.cacheEntries > maxCache) return toResult(checker, "memory")
    stepsLeft -= checker.run(Math.min(slice, stepsLeft))
  }
  return toResult(checker, undefined)
}

/**
 * Checks a history against a model in Effect: the deadline is read from `Clock`, and the search yields
 * to other fibers (and to interruption) every `sliceSteps` steps. Fails with `HistoryError` on a
 * malformed history.
 */
export const check = <S, I, O>(
  model: Model<S, I, O>,
  history: History<I, O>,
  options: EffectCheckOptions = {}
): Effect.Effect<CheckResult<S>, HistoryError> =>
  Effect.gen(function*() {
    const checker = yield* Effect.try({
      try: () => new Checker(history, model, rulesFor(options), isAuto(options)),
      catch: (e) => {
        if (e instanceof HistoryError) return e
        throw e
      }
    })
    const timeoutMs = options.timeout === undefined ? Number.POSITIVE_INFINITY : Duration.toMillis(options.timeout)
    const slice = Math.max(1, options.sliceSteps ?? DEFAULT_EFFECT_SLICE_STEPS)
    const maxCache = options.maxCacheEntries ?? DEFAULT_MAX_CACHE_ENTRIES
    const start = yield* Clock.currentTimeMillis
    let stepsLeft = options.maxSteps ?? Number.POSITIVE_INFINITY
    while (!checker.done) {
      if (stepsLeft <= 0) return toResult(checker, "steps")
      if ((yield* Clock.currentTimeMillis) - start >= timeoutMs) return toResult(checker, "timeout")
      if (checker.cacheEntries > maxCache) return toResult(checker, "memory")
      stepsLeft -= checker.run(Math.min(slice, stepsLeft))
      yield* Effect.yieldNow()
    }
    return toResult(checker, undefined)
  }).pipe(Effect.withSpan("Linearizability.check"))

/** The partitions of a result that are not linearizable. */
export const illegalPartitions = <S>(result: CheckResult<S>): ReadonlyArray<PartitionResult<S>> =>
  result.partitions.filter((p) => p.status === "Illegal")

const formatTime = (t: number): string => (Number.isFinite(t) ? String(t) : "∞")

const partitionName = (p: { readonly label: string }): string =>
  p.label === "" ? "the history" : `partition ${JSON.stringify(p.label)}`

const plural = (n: number, one: string, many: string) => (n === 1 ? one : many)

/**
 * Explains a result for people: the first line is a one-line summary; for an illegal history, the
 * following lines say where the first illegal partition fails (the state after its longest
 * linearizable prefix and the operations that cannot take effect next).
 */
export const explain = <S, I, O>(model: Model<S, I, O>, history: History<I, O>, result: CheckResult<S>): string => {
  const total = history.length
  const count = result.partitions.length
  const partitions = `${count} partition${count === 1 ? "" : "s"}`
  switch (result._tag) {
    case "Ok":
      return `linearizable: ${total} operations in ${partitions} (${result.steps} search steps)`
    case "Unknown": {
      const open = result.partitions.filter((p) => p.status === "Unknown")
      const budget = { timeout: "time budget", steps: "step budget", memory: "cache size limit" }[result.reason]
      return `unknown: the ${budget} ran out after ${result.steps} steps ` +
        `with ${open.length} of ${partitions} undecided (first: ${partitionName(open[0] ?? { label: "" })}, ` +
        `${open[0]?.longest.length ?? 0} of ${open[0]?.ops.length ?? 0} operations linearized)`
    }
    case "Illegal": {
      const bad = illegalPartitions(result)
      const first = bad[0]!
      const failure = first.failure!
      const op = (i: number) => {
        const o = history[i]!
        const ret = isPending(o) ? "never returned" : `return ${formatTime(o.return!)}`
        const span = `call ${formatTime(o.call)}, ${ret}`
        return `client ${o.clientId}: ${describeOperation(model, o)} [${span}; #${i}]`
      }
      const lines = [
        `not linearizable: ${partitionName(first)}: ` +
        `only ${first.longest.length} of its ${first.ops.length} operations ` +
        `linearize; by t=${formatTime(failure.time)} (when client ${history[failure.blocking]!.clientId}'s ` +
        `${describeOperation(model, history[failure.blocking]!)} returned) no operation can take effect next`,
        `  state after the longest linearizable prefix: ${describeState(model, failure.state)}`,
        ...failure.attempts.map((i) => `  illegal next: ${op(i)}`),
        ...failure.deadEnds.map((i) => `  dead end next: ${op(i)}: legal, but what remains cannot follow it`)
      ]
      if (bad.length > 1) {
        const more = bad.slice(1, 6).map((p) => JSON.stringify(p.label)).join(", ")
        const etc = bad.length > 6 ? ", ..." : ""
        const others = plural(bad.length - 1, "partition is", "partitions are")
        lines.push(`  ${bad.length - 1} more ${others} not linearizable: ${more}${etc}`)
      }
      const unknown = result.partitions.filter((p) => p.status === "Unknown").length
      if (unknown > 0) {
        lines.push(`  ${unknown} ${plural(unknown, "partition was", "partitions were")} not decided within the budget`)
      }
      return lines.join("\n")
    }
  }
}
