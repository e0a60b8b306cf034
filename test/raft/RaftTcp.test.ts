/**
 * Three real Raft nodes in one process: loopback TCP transports, file storage in temp directories,
 * real time. Elect, replicate, kill the leader (close its scope), re-elect, keep writing until the
 * log is compacted past the dead node, restart it from its directory, and watch it catch up from a
 * snapshot. Every wait is a bounded poll; everything is closed at the end.
 */
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { it } from "@effect/vitest"
import { Effect, Exit, Schema, Scope } from "effect"
import { describe, expect } from "vitest"
import * as Codec from "../../src/codec/Codec.js"
import * as Tcp from "../../src/rpc/Tcp.js"
import { Transport } from "../../src/rpc/Transport.js"
import * as Raft from "../../src/raft/Raft.js"
import * as RaftConfig from "../../src/raft/RaftConfig.js"
import * as Rsm from "../../src/raft/ReplicatedStateMachine.js"
import * as FileStorage from "../../src/storage/FileStorage.js"
import { LogStorage } from "../../src/raft/LogStorage.js"

/** The replicated state: every number added, in order. */
const machine: Rsm.StateMachine<ReadonlyArray<number>, number, number> = {
  initial: () => [],
  apply: (state, n) => [[...state, n], state.length + 1],
  snapshot: (state) => Codec.pack(state),
  restore: (data) => Codec.unpack(data).pipe((r) => (r._tag === "Right" ? (r.right as Array<number>) : []))
}

const ids = ["n0", "n1", "n2"]

/** Polls `f` every 20 ms until it returns a value, for at most `ms`. */
const eventually = <A, E>(what: string, ms: number, f: Effect.Effect<A | undefined, E>) =>
  Effect.gen(function*() {
    const deadline = Date.now() + ms
    while (Date.now() < deadline) {
      const a = yield* f
      if (a !== undefined) return a
      yield* Effect.sleep("20 millis")
    }
    return yield* Effect.die(new Error(`timed out after ${ms} ms waiting for ${what}`))
  })

describe("Raft over TCP with file storage", () => {
  it.live("elect, replicate, kill the leader, re-elect, restart it and catch up from a snapshot", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const root = yield* fs.makeTempDirectoryScoped({ prefix: "concord-raft-tcp-" })
      const peers: Record<string, string> = {}
      const nodes = new Map<string, { scope: Scope.CloseableScope; rsm: Rsm.ReplicatedStateMachine<ReadonlyArray<number>, number, number> }>()

      const start = (id: string) =>
        Effect.gen(function*() {
          const scope = yield* Scope.make()
          const port = peers[id] === undefined ? 0 : Number(peers[id]!.split(":")[1])
          const transport = yield* Tcp.make({ self: id, listen: { port }, peers, callTimeout: "500 millis" }).pipe(Scope.extend(scope))
          peers[id] = `127.0.0.1:${transport.address!.port}`
          const storage = yield* FileStorage.make({ dir: `${root}/${id}`, identity: { clusterId: "test", nodeId: id } }).pipe(
            Scope.extend(scope)
          )
          const config = RaftConfig.make({ id, peers: ids, electionTimeoutMs: 300, heartbeatIntervalMs: 50, rpcTimeoutMs: 500 })
          const rsm = yield* Effect.gen(function*() {
            const raft = yield* Raft.make(config)
            return yield* Rsm.make(machine, { command: Schema.Int, snapshotLogBytes: 2_000 }).pipe(Effect.provideService(Raft.Raft, raft))
          }).pipe(
            Effect.provideService(Transport, transport),
            Effect.provideService(LogStorage, storage),
            Scope.extend(scope)
          )
          nodes.set(id, { scope, rsm })
        })
      const stop = (id: string) => Effect.suspend(() => Scope.close(nodes.get(id)!.scope, Exit.void)).pipe(
        Effect.zipRight(Effect.sync(() => nodes.delete(id)))
      )
      yield* Effect.addFinalizer(() => Effect.forEach([...nodes.keys()], stop, { discard: true }))

      const leader = (among: ReadonlyArray<string>) =>
        eventually("a single leader", 10_000, Effect.gen(function*() {
          const leaders: Array<string> = []
          for (const id of among) if ((yield* nodes.get(id)!.rsm.raft.status).role === "Leader") leaders.push(id)
          return leaders.length === 1 ? leaders[0] : undefined
        }))
      const write = (on: string, from: number, to: number) =>
        Effect.gen(function*() {
          for (let k = from; k < to; k++) yield* nodes.get(on)!.rsm.execute(k)
        })

      // Start all three; ports are known once each has bound (the peers map is read at call time).
      for (const id of ids) yield* start(id)
      const l1 = yield* leader(ids)
      yield* write(l1, 0, 50)
      expect(yield* nodes.get(l1)!.rsm.read((s) => s.length)).toBe(50)

      // Kill the leader; the other two elect a new one and keep going.
      const deadIndex = (yield* nodes.get(l1)!.rsm.raft.status).lastIndex
      yield* stop(l1)
      const rest = ids.filter((id) => id !== l1)
      const l2 = yield* leader(rest)
      expect(l2).not.toBe(l1)
      yield* write(l2, 50, 300)
      const leaderStatus = yield* nodes.get(l2)!.rsm.raft.status
      expect(leaderStatus.snapshotIndex).toBeGreaterThan(deadIndex) // compacted past the dead node's log

      // Restart the old leader from its directory: it must be sent a snapshot to catch up.
      yield* start(l1)
      const expected = yield* nodes.get(l2)!.rsm.read((s) => s)
      expect(expected).toEqual(Array.from({ length: 300 }, (_, k) => k))
      yield* eventually("the restarted node to catch up", 10_000, Effect.map(nodes.get(l1)!.rsm.local, (l) =>
        l.state.length === 300 ? true : undefined))
      const restarted = yield* nodes.get(l1)!.rsm.raft.status
      expect(restarted.snapshotIndex).toBeGreaterThan(deadIndex)
      expect((yield* nodes.get(l1)!.rsm.local).state).toEqual(expected)
      // And the cluster still takes writes with all three.
      yield* write((yield* leader(ids)), 300, 310)
    }).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer)), 60_000)
})
