/**
 * Your own replicated state machine under Effect's TestClock: a counter, replicated on three nodes by
 * `ReplicatedStateMachine`. The leader crashes, the others elect a new one and keep counting; the old
 * leader restarts from its storage and catches up; then the whole cluster crashes and restarts, and
 * the count is still there. The history of the client's operations is checked against a model of
 * the counter.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Schema, TestClock } from "effect"
import { type CheckModel, type ReplicatedStateMachine, SimCluster } from "concord-dist"

/** The commands, as they are stored in the log. */
const Add = Schema.Struct({ add: Schema.Int })
type Add = typeof Add.Type

/** A deterministic state machine: the state is the count, each command adds to it and returns the new count. */
const counter: ReplicatedStateMachine.StateMachine<number, Add, number> = {
  initial: () => 0,
  apply: (count, { add }) => [count + add, count + add],
  snapshot: (count) => new TextEncoder().encode(String(count)),
  restore: (data) => Number(new TextDecoder().decode(data))
}

/** The counter's sequential specification, for the linearizability check of the recorded history. */
const model: CheckModel.Model<number, SimCluster.ReplicatedInput<Add>, unknown> = {
  name: "counter",
  initial: 0,
  step: (count, input, output) => {
    const next = input.op === "execute" ? count + input.command.add : count
    // An operation that never returned (output undefined) may have had any result.
    return [output === undefined || output === next, next]
  }
}

describe("a replicated counter under the TestClock", () => {
  it.scoped("survives the leader's crash, catches up after restart, and keeps its count across a full restart", () =>
    Effect.gen(function*() {
      const cluster = yield* SimCluster.make({ nodes: 3, stateMachine: counter, command: Add })
      const leader = yield* cluster.awaitLeader()
      const app = yield* cluster.client()
      for (let i = 1; i <= 5; i++) yield* app.execute({ add: i })
      expect(yield* app.read((count) => count)).toBe(15)

      // The leader crashes; the other two elect a leader (awaitLeader moves the clock) and go on.
      yield* cluster.crash(leader)
      expect(cluster.isUp(leader)).toBe(false)
      const survivors = cluster.ids.filter((id) => id !== leader)
      const next = yield* cluster.awaitLeader({ among: survivors })
      expect(survivors).toContain(next)
      expect(yield* app.execute({ add: 100 })).toBe(115)

      // The old leader restarts over its storage: it replays what it had, then heartbeats bring the rest.
      yield* cluster.restart(leader)
      yield* TestClock.adjust("300 millis")
      const restarted = Option.getOrThrow(cluster.replica(leader))
      expect((yield* restarted.local).state).toBe(115)

      // Every node crashes; storage survives, so the count does too.
      for (const id of cluster.ids) yield* cluster.crash(id)
      for (const id of cluster.ids) yield* cluster.restart(id)
      yield* cluster.awaitLeader()
      expect(yield* app.read((count) => count)).toBe(115)
      expect(yield* app.execute({ add: 1 })).toBe(116)

      yield* cluster.checkLinearizable(model)
    }))
})
