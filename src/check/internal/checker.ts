/**
 * Runs the partition searches of one history round-robin under a shared step budget, so that one
 * hard partition cannot starve the others (the sequential analogue of Porcupine checking partitions in
 * parallel), and so that the caller can poll a deadline or yield between slices.
 * @internal
 */
import type { History } from "../History.js"
import { HistoryError, returnTime, validate } from "../History.js"
import type { PartitionResult, PartitionStatus } from "../Linearizability.js"
import type { Model, Partition } from "../Model.js"
import { ILLEGAL, OK, PartitionSearch, RUNNING } from "./search.js"

export class Checker<S, I, O> {
  private readonly partitions: ReadonlyArray<Partition>
  private readonly searches: ReadonlyArray<PartitionSearch<S, I, O>>
  private readonly running: Array<PartitionSearch<S, I, O>>
  private turn = 0
  steps = 0

  /** Throws `HistoryError` on a malformed history. */
  constructor(private readonly history: History<I, O>, model: Model<S, I, O>) {
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
      return new PartitionSearch(model, p.ops.map((i) => history[i]!))
    })
    this.running = this.searches.filter((s) => s.status === RUNNING)
  }

  get done(): boolean {
    return this.running.length === 0
  }

  /** Runs searches in turn for at most `budget` steps in total; returns the steps taken. */
  run(budget: number): number {
    let used = 0
    while (used < budget && this.running.length > 0) {
      if (this.turn >= this.running.length) this.turn = 0
      const search = this.running[this.turn]!
      used += search.run(budget - used)
      if (search.status === RUNNING) this.turn++
      else this.running.splice(this.turn, 1)
    }
    this.steps += used
    return used
  }

  illegal(): boolean {
    return this.searches.some((s) => s.status === ILLEGAL)
  }

  partitionResults(): ReadonlyArray<PartitionResult<S>> {
    return this.searches.map((search, p) => {
      const partition = this.partitions[p]!
      const global = (local: number) => partition.ops[local]!
      const status: PartitionStatus = search.status === OK ? "Ok" : search.status === ILLEGAL ? "Illegal" : "Unknown"
      const base = {
        label: partition.label,
        ops: partition.ops,
        status,
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
          blocking,
          time: returnTime(this.history[blocking]!)
        }
      }
    })
  }
}
