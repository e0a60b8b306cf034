/**
 * `Model`: the sequential specification a history is checked against.
 *
 * A model is a state machine: from `initial`, each operation `step`s the state, given the operation's
 * input and the output the client observed, and says whether that output was legal. A history is
 * linearizable when its operations can be put in one total order, consistent with real time, in which
 * every step is legal.
 *
 * - States must be immutable values: the checker keeps them in its cache and backtracks to them.
 * - `equals` decides when two states are the same (the search prunes a (linearized set, state) pair it
 *   has seen before). The default is Effect's `Equal.equals`: `===` for primitives, structural for
 *   `Data` values. `hash`, when given, must agree with `equals`; it spreads the cache but is optional.
 * - `output` is `undefined` when the operation never returned: any output is possible, so `step`
 *   must accept it and return the state the input leads to whatever it answered.
 * - `partition` splits a history into independent sub-histories (P-compositionality: a history is
 *   linearizable iff every partition is), e.g. one per key of a key/value store.
 * - The `describe…` functions are used by messages and the HTML view.
 *
 * - `lookahead`, optional and for speed only, lets the model abandon a state early when no order of
 *   the operations still to come can be legal from it (e.g. a KV value that is not a prefix of what
 *   the next read returned, when no put can intervene). Without it the search finds out at the read.
 *
 * Nondeterministic specifications (a step that may lead to several states) are written as a
 * `NondeterministicModel` and turned into a `Model` over sets of states by `nondeterministic`.
 * @since 0.1.0
 */
import { Equal } from "effect"
import type { History, Operation } from "./History.js"

/** Whether the step was legal, and the state after it (ignored when illegal). */
export type StepResult<S> = readonly [legal: boolean, next: S]

/**
 * The operations of a partition not linearized yet, as the search sees them: their events in time order
 * (calls before returns on equal times). A call event is an operation that may take effect before any
 * later return; an operation that never returned has its return event last.
 */
export interface Remaining<I, O> {
  /**
   * Visits the events in order until `visit` returns false. `op` is the operation's index in its
   * partition (the order of `Partition.ops`), as `Pruning` numbers operations.
   */
  readonly forEach: (visit: (event: "call" | "return", input: I, output: O | undefined, op: number) => boolean) => void
}

/**
 * The pruning rules, each of which can be turned off on its own (tests compare every combination with
 * the plain search and brute force). README "Pruning" describes them.
 */
export interface PruneRules {
  /** (a) An available read that is legal now is taken at once, without branching. */
  readonly reads: boolean
  /** (b) States that no read can follow merge into one dead state; the model's stronger lookahead. */
  readonly dead: boolean
  /** (c) Blind writes: tried alone only at their deadline, else absorbed before a put; unseen never-returned ones last. */
  readonly blind: boolean
  /** (d) A write that makes an available read legal is tried first. */
  readonly order: boolean
}

/** Every rule on: what `search: "pruned"` uses. */
export const allRules: PruneRules = { reads: true, dead: true, blind: true, order: true }

/** One operation of a partition as the pruned search hands it to `Model.prune`. */
export interface PartitionOperation<I, O> {
  readonly input: I
  /** `undefined` when it never returned. */
  readonly output: O | undefined
  readonly call: number
  /** +infinity when it never returned. */
  readonly return: number
}

/**
 * What a model knows about one partition that lets the pruned search skip work (see the README's
 * "Pruning" and `internal/search.ts`, where each rule's soundness is argued). Operations are numbered
 * by their index in the partition. Every member must be exact or err on the side of searching more:
 * the pruned search must give the plain search's verdict on every history.
 */
export interface Pruning<S, I, O> {
  /** The initial state (it may carry facts about this partition, so it is not shared with others). */
  readonly initial: S
  /** Steps a state by operation `op`; may return states that `equals` merges (e.g. KV's dead values). */
  readonly step: (state: S, op: number) => StepResult<S>
  /** Rule (a): `op` never changes any state (a read); when legal and available it is taken at once. */
  readonly isRead: (op: number) => boolean
  /**
   * Rule (c): `op` never returned and may be linearized after everything else without changing the
   * verdict (for KV: a write no read can have seen); the search leaves it out and puts it last.
   */
  readonly postpone: (op: number) => boolean
  /**
   * Rule (c): `op` is a write whose effect no read can show: after it, every read that returned is
   * illegal until an `overwrites` operation (KV: a put no output starts with, an append no output
   * contains). Such writes are tried alone only when they must take effect before anything else can
   * (their return comes first), and otherwise just before an overwriting write.
   */
  readonly blind: (op: number) => boolean
  /** Rule (c): `op` leads to the same state from every state (KV: a put). */
  readonly overwrites: (op: number) => boolean
  /**
   * Rule (b): false when no order of `remaining` can be legal from `state`, as `lookahead` but with
   * operation numbers and the set already linearized.
   */
  readonly viable: (state: S, remaining: Remaining<I, O>, linearized: (op: number) => boolean) => boolean
}

/** An independent sub-history: the indices (into the whole history) of its operations. */
export interface Partition {
  /** How messages and the HTML view name it, e.g. the key. */
  readonly label: string
  readonly ops: ReadonlyArray<number>
}

/** What both kinds of specification share: everything but `initial` and `step`. */
export interface ModelParts<S, I, O> {
  /** Short name for messages ("kv", "register", ...). */
  readonly name: string
  /** State equality; default `Equal.equals`. */
  readonly equals?: (a: S, b: S) => boolean
  /** A hash consistent with `equals` (an int); default: none (all states hash alike). */
  readonly hash?: (state: S) => number
  /** Independent sub-histories; default: the whole history is one partition labelled "". */
  readonly partition?: (history: History<I, O>) => ReadonlyArray<Partition>
  readonly describeInput?: (input: I) => string
  /** Describes an observed output; never called with `undefined`. */
  readonly describeOutput?: (output: O) => string
  /** Describes an operation; default `describeInput → describeOutput`. */
  readonly describeOperation?: (input: I, output: O | undefined) => string
  readonly describeState?: (state: S) => string
  /**
   * For speed only: false when no order of the `remaining` operations can be legal from `state` (for a
   * nondeterministic model: from this one of its possible states), so the search abandons it. Must
   * never return false when some order could be legal.
   */
  readonly lookahead?: (state: S, remaining: Remaining<I, O>) => boolean
}

/** A deterministic sequential specification. */
export interface Model<S, I, O> extends ModelParts<S, I, O> {
  readonly initial: S
  /** Steps `state` by an operation; `output` is `undefined` when the operation never returned. */
  readonly step: (state: S, input: I, output: O | undefined) => StepResult<S>
  /**
   * For speed only: the pruning rules' knowledge of one partition, used by the pruned search
   * (`search: "pruned"`, the default for models that have it).
   */
  readonly prune?: (ops: ReadonlyArray<PartitionOperation<I, O>>, rules: PruneRules) => Pruning<S, I, O>
}

/** A specification whose step may lead to several states (an empty array means illegal). */
export interface NondeterministicModel<S, I, O> extends ModelParts<S, I, O> {
  /** The possible initial states (usually one). */
  readonly initial: ReadonlyArray<S>
  readonly step: (state: S, input: I, output: O | undefined) => ReadonlyArray<S>
}

const json = (value: unknown): string => {
  if (value === undefined) return "undefined"
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

/** How the checker and the view describe an operation. */
export const describeOperation = <S, I, O>(model: Model<S, I, O>, op: Operation<I, O>): string => {
  if (model.describeOperation !== undefined) return model.describeOperation(op.input, op.output)
  const input = model.describeInput !== undefined ? model.describeInput(op.input) : json(op.input)
  if (op.output === undefined) return op.return === undefined || op.return === null ? `${input} → ?` : input
  return `${input} → ${model.describeOutput !== undefined ? model.describeOutput(op.output) : json(op.output)}`
}

/** How the checker and the view describe a state. */
export const describeState = <S, I, O>(model: Model<S, I, O>, state: S): string =>
  model.describeState !== undefined ? model.describeState(state) : json(state)

/**
 * Partitions by a key of the input (P-compositionality), in sorted key order: the operations on
 * different keys of a key/value store are independent, so each key is checked on its own.
 */
export const partitionBy =
  <I, O>(key: (input: I) => string) => (history: History<I, O>): ReadonlyArray<Partition> => {
    const byKey = new Map<string, Array<number>>()
    for (let i = 0; i < history.length; i++) {
      const k = key(history[i]!.input)
      const ops = byKey.get(k)
      if (ops === undefined) byKey.set(k, [i])
      else ops.push(i)
    }
    return Array.from(byKey.keys())
      .sort()
      .map((label) => ({ label, ops: byKey.get(label)! }))
  }

/**
 * A deterministic model over sets of states (the powerset construction): a step maps every possible
 * state, keeps the distinct results, and is legal when at least one remains. This keeps the search
 * itself simple and its cache exact, as in Porcupine's `NondeterministicModel`.
 */
export const nondeterministic = <S, I, O>(model: NondeterministicModel<S, I, O>): Model<ReadonlyArray<S>, I, O> => {
  const eq = model.equals ?? Equal.equals
  const hash = model.hash
  const dedupe = (states: ReadonlyArray<S>): ReadonlyArray<S> => {
    if (states.length <= 1) return states
    const out: Array<S> = []
    for (const s of states) if (!out.some((t) => eq(s, t))) out.push(s)
    return out
  }
  const stateSet: Model<ReadonlyArray<S>, I, O> = {
    name: model.name,
    initial: dedupe(model.initial),
    step: (states, input, output) => {
      const next: Array<S> = []
      for (const s of states) for (const t of model.step(s, input, output)) next.push(t)
      const distinct = dedupe(next)
      return [distinct.length > 0, distinct]
    },
    // Both sides are duplicate-free, so equal sizes plus inclusion one way is set equality.
    equals: (a, b) => a.length === b.length && a.every((s) => b.some((t) => eq(s, t))),
    describeState: (states) => `{${states.map((s) => (model.describeState ?? json)(s)).join(" | ")}}`
  }
  return {
    ...stateSet,
    // XOR of the members' hashes does not depend on their order.
    ...(hash !== undefined
      ? { hash: (states: ReadonlyArray<S>) => states.reduce((h, s) => h ^ hash(s), states.length) }
      : {}),
    ...(model.partition !== undefined ? { partition: model.partition } : {}),
    ...(model.describeInput !== undefined ? { describeInput: model.describeInput } : {}),
    ...(model.describeOutput !== undefined ? { describeOutput: model.describeOutput } : {}),
    ...(model.describeOperation !== undefined ? { describeOperation: model.describeOperation } : {}),
    ...(model.lookahead !== undefined ? { lookahead: lookaheadAny(model.lookahead) } : {})
  }
}

// A set of possible states is viable if one of them is.
const lookaheadAny = <S, I, O>(lookahead: (state: S, remaining: Remaining<I, O>) => boolean) =>
(states: ReadonlyArray<S>, remaining: Remaining<I, O>): boolean => states.some((s) => lookahead(s, remaining))
