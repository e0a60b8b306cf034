/**
 * The public test kit beyond its examples (examples/testing/): the failures it reports (no leader, a
 * history that is not linearizable, bad partitions), what it records, its RPC counts, the clock
 * helpers under both clocks, and the cluster seed's determinism under the TestClock.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Either, Exit, Option, Schema, TestClock } from "effect"
import type { Model } from "../../src/check/Model.js"
import * as KvClient from "../../src/kv/KvClient.js"
import type * as Rsm from "../../src/raft/ReplicatedStateMachine.js"
import * as SimCluster from "../../src/sim/SimCluster.js"

const Add = Schema.Struct({ add: Schema.Int })
type Add = typeof Add.Type
const counter: Rsm.StateMachine<number, Add, number> = {
  initial: () => 0,
  apply: (n, { add }) => [n + add, n + add],
  snapshot: (n) => new TextEncoder().encode(String(n)),
  restore: (b) => Number(new TextDecoder().decode(b))
}
const counterModel = (factor: number): Model<number, SimCluster.ReplicatedInput<Add>, unknown> => ({
  name: "counter",
  initial: 0,
  step: (n, input, output) => {
    const next = input.op === "execute" ? n + factor * input.command.add : n
    return [output === undefined || output === next, next]
  }
})

describe("SimCluster", () => {
  it.scoped("awaitLeader fails with NoLeader after `within` when no majority runs, having moved the TestClock that far", () =>
    Effect.gen(function*() {
      const cluster = yield* SimCluster.make({ nodes: 3, kv: true })
      yield* cluster.crash("n1")
      yield* cluster.crash("n2")
      const t0 = yield* Clock.currentTimeMillis
      const result = yield* Effect.either(cluster.awaitLeader({ within: "3 seconds" }))
      expect(Either.isLeft(result) && result.left._tag).toBe("NoLeader")
      expect((yield* Clock.currentTimeMillis) - t0).toBe(3000)
      yield* cluster.restart("n1")
      expect(["n1", "n3"]).toContain(yield* cluster.awaitLeader())
    }))

  it.scoped("checkLinearizable fails on a history the model forbids, with an explanation", () =>
    Effect.gen(function*() {
      const cluster = yield* SimCluster.make({ nodes: 3, stateMachine: counter, command: Add })
      yield* cluster.awaitLeader()
      const app = yield* cluster.client()
      yield* app.execute({ add: 2 })
      yield* app.execute({ add: 3 })
      yield* cluster.checkLinearizable(counterModel(1))
      const wrong = yield* Effect.flip(cluster.checkLinearizable(counterModel(2)))
      expect(wrong.verdict).toBe("Illegal")
      expect(wrong.message).toMatch(/not linearizable/)
    }))

  it.scoped("records timed-out operations as pending and refused ones not at all; counts RPCs by sender and type", () =>
    Effect.gen(function*() {
      const cluster = yield* SimCluster.make({ nodes: 3, kv: true })
      const leader = yield* cluster.awaitLeader()
      const client = yield* cluster.client()
      yield* client.put("a", "1")
      const refused = yield* Effect.either(client.put("x".repeat(2000), "v"))
      expect(Either.isLeft(refused) && refused.left._tag).toBe("InvalidRequest")
      yield* cluster.crash(leader)
      for (const id of cluster.ids) if (id !== leader) yield* cluster.crash(id)
      const late = yield* Effect.fork(client.get("a", { timeout: "1 second" }))
      yield* TestClock.adjust("1 second")
      expect(Exit.isFailure(yield* late.await)).toBe(true)
      const history = yield* cluster.history
      expect(history.map((op) => [op.input.op, op.return === undefined])).toEqual([["put", false], ["get", true]])
      const rpcs = yield* cluster.rpcs
      expect(Object.values(rpcs.bySender).reduce((a, b) => a + b, 0)).toBe(rpcs.total)
      expect(Object.values(rpcs.byType).reduce((a, b) => a + b, 0)).toBe(rpcs.total)
      expect(rpcs.bySender["client-1"]).toBeGreaterThanOrEqual(2)
      expect(rpcs.byType["KvWrite"]).toBeGreaterThanOrEqual(1)
    }))

  it.scoped("clientLayer gives application code that asks for KvClient a recorded client of its own", () =>
    Effect.gen(function*() {
      const cluster = yield* SimCluster.make({ nodes: 3, kv: true })
      yield* cluster.awaitLeader()
      const app = Effect.flatMap(KvClient.KvClient, (kv) => Effect.zipRight(kv.put("app", "ran"), kv.get("app")))
      expect(yield* app.pipe(Effect.provide(cluster.clientLayer({ name: "app" })))).toBe("ran")
      expect((yield* cluster.history).map((op) => op.clientId)).toEqual([0, 0])
      expect((yield* cluster.rpcs).bySender["app"]).toBeGreaterThanOrEqual(2)
    }))

  it.scoped("rejects partitions naming unknown endpoints and clients with taken names", () =>
    Effect.gen(function*() {
      const cluster = yield* SimCluster.make({ nodes: 3, kv: true })
      const bad = yield* Effect.exit(cluster.partition([["n1"], ["nobody"]]))
      expect(String(Exit.isFailure(bad) && bad.cause)).toMatch(/unknown node or client nobody/)
      const twice = yield* Effect.exit(cluster.partition([["n1"], ["n1", "n2"]]))
      expect(String(Exit.isFailure(twice) && twice.cause)).toMatch(/n1 is in two groups/)
      const taken = yield* Effect.exit(cluster.client({ name: "n2" }))
      expect(String(Exit.isFailure(taken) && taken.cause)).toMatch(/name n2 is taken/)
    }))

  it.scoped("with a seed, the same cluster elects the same leader at the same time under the TestClock", () =>
    Effect.gen(function*() {
      const election = Effect.scoped(Effect.gen(function*() {
        const cluster = yield* SimCluster.make({ nodes: 5, kv: true, seed: 7 })
        const t0 = yield* Clock.currentTimeMillis
        const leader = yield* cluster.awaitLeader()
        const term = (yield* Option.getOrThrow(cluster.raft(leader)).status).term
        return { leader, term, after: (yield* Clock.currentTimeMillis) - t0, rpcs: (yield* cluster.rpcs).total }
      }))
      const first = yield* election
      expect(yield* election).toEqual(first)
    }))
})

describe("SimCluster under the Simulation kernel", () => {
  it("an unreliable network loses requests and replies, yet every append lands exactly once (SEED replays)", async () => {
    const { value } = await SimCluster.simulate(Effect.gen(function*() {
      const cluster = yield* SimCluster.make({ nodes: 3, kv: true, latencyMs: [1, 5] })
      yield* cluster.awaitLeader()
      yield* cluster.unreliable(true)
      const clients = yield* Effect.forEach([0, 1, 2], () => cluster.client())
      yield* Effect.forEach(clients, (c, i) =>
        Effect.forEach(Array.from({ length: 10 }, (_, j) => j), (j) => c.append("log", `(${i}.${j})`), { discard: true }), {
        concurrency: "unbounded",
        discard: true
      })
      yield* cluster.unreliable(false)
      const log = yield* clients[0]!.get("log")
      yield* cluster.checkLinearizable()
      return { log, rpcs: (yield* cluster.rpcs).total }
    }), { timeLimit: "60 seconds" })
    for (let i = 0; i < 3; i++) {
      const mine = value.log.match(new RegExp(`\\(${i}\\.\\d\\)`, "g")) ?? []
      expect(mine).toEqual(Array.from({ length: 10 }, (_, j) => `(${i}.${j})`))
    }
    expect(value.log.length).toBe(30 * 5)
  })
})

describe("SimCluster.drive and advance", () => {
  it.effect("under the TestClock: drive adjusts the clock until the effect ends or `within` passes", () =>
    Effect.gen(function*() {
      const t0 = yield* Clock.currentTimeMillis
      expect(yield* SimCluster.drive(Effect.as(Effect.sleep("250 millis"), "done"), { step: "100 millis" })).toEqual(Option.some("done"))
      expect((yield* Clock.currentTimeMillis) - t0).toBe(300)
      expect(yield* SimCluster.drive(Effect.never, { within: "1 second" })).toEqual(Option.none())
      yield* SimCluster.advance("700 millis")
      expect((yield* Clock.currentTimeMillis) - t0).toBe(2000)
    }))

  it("under the Simulation kernel: the same calls sleep", async () => {
    const { value } = await SimCluster.simulate(Effect.gen(function*() {
      const none = yield* SimCluster.drive(Effect.never, { within: "1 second" })
      yield* SimCluster.advance("500 millis")
      return { none, t: yield* Clock.currentTimeMillis }
    }), { seed: 1 })
    expect(value).toEqual({ none: Option.none(), t: 1500 })
  })
})
