/**
 * Runs the partition searches of one history round-robin under a shared budget, so that one hard
 * partition cannot starve the others (the sequential analogue of Porcupine checking partitions in
 * parallel), and so that the caller can poll a deadline or yield between slices. A partition's result
 * is taken as soon as its search ends and the search (its cache) is dropped.
 * @internal
 */
import type { History } from "../History.js"
import { HistoryError, returnTime, validate } from "../History.js"
import type { PartitionResult } from "../Linearizability.js"
import type { Model, Partition, PruneRules } from "../Model.js"
import { ILLEGAL, OK, PartitionSearch, RUNNING } from "./search.js"

// Steps the plain search may spend re-deriving the report of a partition the pruned search found illegal.
const REPORT_STEPS = 200_000

// `search: "auto"`: the plain search first, for this many steps per operation (plus a constant), then
// the pruned one from scratch. The plain search decides most histories in about one step per
// operation and each of its steps is cheaper; the pruned one pays a setup per partition and more work
// per step, which only hard (hot-key) partitions repay.
const AUTO_STEPS_PER_OP = 4
const AUTO_STEPS = 10_000

const statusNames = { [RUNNING]: "Unknown", [OK]: "Ok", [ILLEGAL]: "Illegal" } as const

export class Checker<S, I, O> {
  private readonly partitions: ReadonlyArray<Partition>
  private readonly searches: Array<PartitionSearch<S, I, O> | undefined>
  private readonly results: Array<PartitionResult<S> | undefined>
  // Indices of the partitions still searching, and whose turn it is.
  private readonly running: Array<number> = []
  private turn = 0
  // Steps each partition's plain search may still take before auto switches it to the pruned search.
  private readonly allowance: Array<number>
  steps = 0

  /** Throws `HistoryError` on a malformed history. */
  constructor(
    private readonly history: History<I, O>,
    private readonly model: Model<S, I, O>,
    private readonly rules?: PruneRules,
    auto = false
  ) {
    const error = validate(history)
    if (error !== undefined) throw error
    this.partitions = model.partition !== undefined
      ? model.partition(history)
      : [{ label: "", ops: Array.from({ length: history.length }, (_, i) => i) }]
    this.searches = this.partitions.map((p) => {
      for (const i of p.ops) {
        if (!Number.isInteger(i) || i < 0 || i >= history.length) {
          throw new HistoryError({ index: i, reason: `partition "${p.label}" names an operation outside the history` })
        }
      }
      const prune = model.prune !== undefined && rules !== undefined && !auto
      return new PartitionSearch(model, history, p.ops, prune ? rules : undefined)
    })
    this.allowance = this.partitions.map((p) =>
      auto && rules !== undefined && model.prune !== undefined
        ? AUTO_STEPS_PER_OP * p.ops.length + AUTO_STEPS
        : Number.POSITIVE_INFINITY
    )
    this.results = this.partitions.map(() => undefined)
    this.searches.forEach((search, p) => {
      if (search!.status === RUNNING) this.running.push(p)
      else this.finish(p)
    })
  }

  get done(): boolean {
    return this.running.length === 0
  }

  /** Cache entries held by the searches still running (each is a state plus a few ints). */
  get cacheEntries(): number {
    let n = 0
    for (const p of this.running) n += this.searches[p]!.nodes
    return n
  }

  /** Runs searches in turn for at most `budget` steps in total; returns the steps taken. */
  run(budget: number): number {
    let used = 0
    while (used < budget && this.running.length > 0) {
      if (this.turn >= this.running.length) this.turn = 0
      const p = this.running[this.turn]!
      const search = this.searches[p]!
      const taken = search.run(Math.min(budget - used, this.allowance[p]!))
      used += taken
      this.allowance[p]! -= taken
      if (search.status === RUNNING) {
        if (this.allowance[p]! <= 0) {
          // Auto: the plain search did not decide it cheaply; the pruned search starts over.
          const partition = this.partitions[p]!
          const pruned = new PartitionSearch(this.model, this.history, partition.ops, this.rules)
          pruned.steps = search.steps
          this.searches[p] = pruned
          this.allowance[p] = Number.POSITIVE_INFINITY
        }
        this.turn++
      } else {
        this.running.splice(this.turn, 1)
        this.finish(p)
      }
    }
    this.steps += used
    return used
  }

  illegal(): boolean {
    return this.results.some((r) => r?.status === "Illegal")
  }

  /** Every partition's result; those still searching are `Unknown`, with the longest prefix so far. */
  partitionResults(): ReadonlyArray<PartitionResult<S>> {
    return this.partitions.map((_, p) => this.results[p] ?? this.summarize(p))
  }

  private finish(p: number): void {
    // The pruned search's lookahead abandons a state as soon as it is doomed, often a few operations
    // before the read that dooms it, so its longest prefix stops earlier than the plain search's. For
    // the report (the verdict is the same: both searches are exact), an illegal partition is searched
    // again with the plain search under a small budget, and its report is used if it gets there.
    const search = this.searches[p]!
    if (search.pruned && search.status === ILLEGAL) {
      const partition = this.partitions[p]!
      const plain = new PartitionSearch(this.model, this.history, partition.ops)
      plain.run(REPORT_STEPS)
      if (plain.status === ILLEGAL) {
        plain.steps += search.steps
        this.searches[p] = plain
      }
    }
    this.results[p] = this.summarize(p)
    this.searches[p] = undefined
  }

  private summarize(p: number): PartitionResult<S> {
    const search = this.searches[p]!
    const partition = this.partitions[p]!
    const global = (local: number) => partition.ops[local]!
    const base = {
      label: partition.label,
      ops: partition.ops,
      status: statusNames[search.status],
      longest: search.longest().map(global),
      steps: search.steps
    }
    if (search.status !== ILLEGAL) return base
    const frontier = search.frontier()
    const blocking = global(frontier.blocking)
    return {
      ...base,
      failure: {
        state: frontier.state,
        attempts: frontier.attempts.map(global),
        deadEnds: frontier.deadEnds.map(global),
        blocking,
        time: returnTime(this.history[blocking]!)
      }
    }
  }
}
