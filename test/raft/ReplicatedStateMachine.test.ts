/** ReplicatedStateMachine in simulation: results, dropped proposals, snapshots and restarts. */
import { Clock, Effect, Either, Exit, Fiber, Schema, Scope } from "effect"
import { describe, expect } from "vitest"
import * as Codec from "../../src/codec/Codec.js"
import * as SimNetwork from "../../src/rpc/SimNetwork.js"
import { Transport } from "../../src/rpc/Transport.js"
import * as Raft from "../../src/raft/Raft.js"
import * as RaftConfig from "../../src/raft/RaftConfig.js"
import * as Rsm from "../../src/raft/ReplicatedStateMachine.js"
import * as LogStorage from "../../src/raft/LogStorage.js"
import * as MemoryStorage from "../../src/storage/MemoryStorage.js"
import { simTest } from "../support/simTest.js"

/** A bank of counters: `["add", key, n]` returns the new value. */
type Cmd = readonly [string, number]
const Cmd = Schema.Tuple(Schema.String, Schema.Int)
const counters: Rsm.StateMachine<ReadonlyMap<string, number>, Cmd, number> = {
  initial: () => new Map(),
  apply: (state, [key, n]) => {
    const next = new Map(state)
    const v = (state.get(key) ?? 0) + n
    next.set(key, v)
    return [next, v]
  },
  snapshot: (state) => Codec.pack([...state]),
  restore: (data) => new Map(Codec.unpack(data).pipe((r) => (r._tag === "Right" ? (r.right as Array<[string, number]>) : [])))
}

const ids = ["a", "b", "c"]

const clusterWith = (snapshotLogRatio: number) => Effect.gen(function*() {
  const net = yield* SimNetwork.make()
  const storages = new Map<string, MemoryStorage.MemoryStorage>()
  const nodes = new Map<string, { scope: Scope.CloseableScope; rsm: Rsm.ReplicatedStateMachine<ReadonlyMap<string, number>, Cmd, number> }>()
  const start = (id: string) =>
    Effect.gen(function*() {
      const storage = storages.get(id) ?? (yield* MemoryStorage.make)
      storages.set(id, storage)
      const scope = yield* Scope.make()
      const transport = yield* net.meshTransport(id, ids)
      const rsm = yield* Effect.gen(function*() {
        const raft = yield* Raft.make(RaftConfig.make({ id, peers: ids, electionTimeoutMs: 300, heartbeatIntervalMs: 50 }))
        return yield* Rsm.make(counters, { command: Cmd, snapshotLogBytes: 500, snapshotLogRatio }).pipe(Effect.provideService(Raft.Raft, raft))
      }).pipe(
        Effect.provideService(Transport, transport),
        Effect.provideService(LogStorage.LogStorage, storage),
        Scope.extend(scope),
        Effect.orDie
      )
      nodes.set(id, { scope, rsm })
    })
  const stop = (id: string) =>
    Effect.suspend(() => Scope.close(nodes.get(id)!.scope, Exit.void)).pipe(Effect.zipRight(Effect.sync(() => nodes.delete(id))))
  const isolate = (id: string, cut: boolean) =>
    Effect.forEach(ids.filter((p) => p !== id), (p) =>
      Effect.zipRight(net.enable(`${id}->${p}`, !cut), net.enable(`${p}->${id}`, !cut)), { discard: true })
  const leader = Effect.gen(function*() {
    for (;;) {
      for (const [id, n] of nodes) if ((yield* n.rsm.raft.status).role === "Leader") return id
      yield* Effect.sleep("50 millis")
    }
  })
  for (const id of ids) yield* start(id)
  yield* Effect.addFinalizer(() => Effect.forEach([...nodes.keys()], stop, { discard: true }))
  return { nodes, start, stop, isolate, leader, storages }
})
const cluster = clusterWith(0)

describe("ReplicatedStateMachine", () => {
  simTest("execute returns apply's result; read is linearizable and sees every executed command", Effect.gen(function*() {
    const c = yield* cluster
    const l = yield* c.leader
    const rsm = c.nodes.get(l)!.rsm
    expect(yield* rsm.execute(["x", 5])).toBe(5)
    expect(yield* rsm.execute(["x", 2])).toBe(7)
    expect(yield* rsm.read((s) => s.get("x"))).toBe(7)
    const follower = ids.find((id) => id !== l)!
    const notLeader = yield* Effect.either(c.nodes.get(follower)!.rsm.execute(["x", 1]))
    expect(Either.isLeft(notLeader) && notLeader.left._tag).toBe("NotLeader")
  }))

  simTest("a proposal replaced by a new leader's log fails with ProposalDropped (it never took effect)", Effect.gen(function*() {
    const c = yield* cluster
    const old = yield* c.leader
    yield* c.nodes.get(old)!.rsm.execute(["x", 1])
    yield* c.isolate(old, true)
    const lost = yield* Effect.fork(Effect.either(c.nodes.get(old)!.rsm.execute(["x", 100])))
    yield* Effect.sleep("2 seconds")
    const l2 = yield* c.leader
    expect(l2).not.toBe(old)
    yield* c.nodes.get(l2)!.rsm.execute(["x", 10])
    yield* c.isolate(old, false)
    const result = yield* Fiber.join(lost)
    expect(Either.isLeft(result) && result.left._tag).toBe("ProposalDropped")
    expect(yield* c.nodes.get(l2)!.rsm.read((s) => s.get("x"))).toBe(11)
  }))

  simTest("snapshots bound the log; a restarted node resumes from its snapshot; a lagging one gets the leader's", Effect.gen(function*() {
    const c = yield* cluster
    const l = yield* c.leader
    const lagging = ids.find((id) => id !== l)!
    yield* c.stop(lagging)
    for (let k = 0; k < 200; k++) yield* c.nodes.get(l)!.rsm.execute([`k${k % 7}`, 1])
    const sizes = yield* c.storages.get(l)!.sizes
    expect(sizes.logBytes).toBeLessThan(1_000)
    expect(sizes.snapshotBytes).toBeGreaterThan(0)
    // Restart the leader: it resumes from its own snapshot.
    yield* c.stop(l)
    yield* c.start(l)
    const mine = yield* c.nodes.get(l)!.rsm.local
    expect(mine.applied).toBeGreaterThan(0)
    // Bring the lagging node back: the leader's log no longer has what it misses.
    yield* c.start(lagging)
    const l2 = yield* c.leader
    const want = yield* c.nodes.get(l2)!.rsm.read((s) => [...s].sort())
    const t0 = yield* Clock.currentTimeMillis
    while ([...(yield* c.nodes.get(lagging)!.rsm.local).state].length < 7) {
      expect((yield* Clock.currentTimeMillis) - t0).toBeLessThan(5_000)
      yield* Effect.sleep("20 millis")
    }
    yield* Effect.sleep("200 millis")
    expect([...(yield* c.nodes.get(lagging)!.rsm.local).state].sort()).toEqual(want)
    expect((yield* c.nodes.get(lagging)!.rsm.raft.status).snapshotIndex).toBeGreaterThan(0) // caught up by snapshot
    expect(want.reduce((n, [, v]) => n + v, 0)).toBe(200)
  }))

  simTest("snapshotLogRatio: a state larger than the byte limit is snapshotted once the log reaches its size, not at every limit", Effect.gen(function*() {
    const run = (ratio: number) =>
      Effect.scoped(Effect.gen(function*() {
        const c = yield* clusterWith(ratio)
        const l = yield* c.leader
        let maxLog = 0
        // 150 keys: the state's snapshot (~1.5 KB) outgrows the 450-byte threshold early on.
        for (let k = 0; k < 600; k++) {
          yield* c.nodes.get(l)!.rsm.execute([`key${k % 150}`, 1])
          maxLog = Math.max(maxLog, (yield* c.storages.get(l)!.sizes).logBytes)
        }
        const sizes = yield* c.storages.get(l)!.sizes
        const taken = (yield* c.nodes.get(l)!.rsm.raft.counters).snapshotsTaken
        const state = yield* c.nodes.get(l)!.rsm.read((s) => [...s.values()].reduce((a, b) => a + b, 0))
        return { taken, maxLog, snapshotBytes: sizes.snapshotBytes, state }
      }))
    const plain = yield* run(0)
    const ratio = yield* run(1)
    expect(plain.state).toBe(600)
    expect(ratio.state).toBe(600)
    expect(ratio.snapshotBytes).toBeGreaterThan(1_000)
    // Without the ratio the log never grows far past the limit; with it, up to about the state's size.
    expect(plain.maxLog).toBeLessThan(1_000)
    expect(ratio.maxLog).toBeGreaterThan(plain.maxLog)
    expect(ratio.maxLog).toBeLessThan(2 * ratio.snapshotBytes + 500)
    expect(ratio.taken).toBeGreaterThan(0)
    expect(ratio.taken * 2).toBeLessThan(plain.taken)
  }))
})


