/**
 * One Raft replica group in a simulation, with a service of the test's choosing on each member: the
 * part the 6.824 harnesses for the shard controller and the sharded key/value service share (and
 * that each of their groups is). Members are named by `ids` on a shared `SimNetwork`; each one gets
 * fresh outgoing ends (random names, as labrpc's start1) to its group and to `others` (servers outside
 * the group that it calls: controllers, other groups), and memory storage that a restarted member
 * receives a copy of (the persister copy).
 */
import { Effect, Exit, Scope } from "effect"
import * as LogStorage from "../../src/raft/LogStorage.js"
import * as Raft from "../../src/raft/Raft.js"
import * as RaftConfig from "../../src/raft/RaftConfig.js"
import type * as SimNetwork from "../../src/rpc/SimNetwork.js"
import { Transport } from "../../src/rpc/Transport.js"
import * as MemoryStorage from "../../src/storage/MemoryStorage.js"
import { connectEnds } from "./names.js"

export interface GroupOptions<S> {
  readonly net: SimNetwork.SimNetworkShape
  /** The members' server names. */
  readonly ids: ReadonlyArray<string>
  /** Servers outside the group that a member calls. */
  readonly others?: ReadonlyArray<string>
  readonly raft?: Partial<Omit<RaftConfig.RaftConfig, "id" | "peers">>
  /** The service on member `i`'s Raft node. */
  readonly service: (i: number) => Effect.Effect<S, unknown, Raft.Raft | Transport | Scope.Scope>
}

export interface Member<S> {
  readonly raft: Raft.RaftShape
  readonly service: S
  readonly scope: Scope.CloseableScope
}

export const makeGroup = <S>(options: GroupOptions<S>) =>
  Effect.gen(function*() {
    const { net, ids } = options
    const n = ids.length
    const targets = [...ids, ...(options.others ?? [])]
    const members: Array<Member<S> | undefined> = Array.from({ length: n }, () => undefined)
    const saved: Array<MemoryStorage.MemoryStorage | undefined> = Array.from({ length: n }, () => undefined)
    /** ends[i][target]: member i's end to `target`. */
    const ends: Array<Record<string, string>> = Array.from({ length: n }, () => ({}))

    const setEnd = (i: number, target: string, on: boolean) => {
      const end = ends[i]![target]
      return end === undefined ? Effect.void : net.enable(end, on)
    }
    /** Enables the links between member i and the members `to` (both directions). */
    const connect = (i: number, to: ReadonlyArray<number>) =>
      Effect.forEach(to, (j) => Effect.zipRight(setEnd(i, ids[j]!, true), setEnd(j, ids[i]!, true)), { discard: true })
    const disconnect = (i: number, from: ReadonlyArray<number>) =>
      Effect.forEach(from, (j) => Effect.zipRight(setEnd(i, ids[j]!, false), setEnd(j, ids[i]!, false)), { discard: true })
    const all = ids.map((_, i) => i)
    const connectAll = Effect.forEach(all, (i) => connect(i, all), { discard: true })
    /** Members in p1 talk only to p1, those in p2 only to p2 (links outside the group are left alone). */
    const partition = (p1: ReadonlyArray<number>, p2: ReadonlyArray<number>) =>
      Effect.gen(function*() {
        for (const i of p1) yield* Effect.zipRight(disconnect(i, p2), connect(i, p1))
        for (const i of p2) yield* Effect.zipRight(disconnect(i, p1), connect(i, p2))
      })

    /** Starts member i over its saved storage, with fresh ends, reachable by and reaching everyone. */
    const start = (i: number) =>
      Effect.gen(function*() {
        const made = yield* connectEnds(net, targets)
        ends[i] = made.ends
        for (const end of made.names) yield* net.enable(end, true)
        const storage = saved[i] ?? (yield* MemoryStorage.make)
        saved[i] = storage
        const scope = yield* Scope.make()
        const config = RaftConfig.make({
          id: ids[i]!,
          peers: ids,
          electionTimeoutMs: 300,
          heartbeatIntervalMs: 100,
          ...options.raft
        })
        members[i] = yield* Effect.gen(function*() {
          const raft = yield* Raft.make(config)
          const service = yield* options.service(i).pipe(Effect.provideService(Raft.Raft, raft))
          return { raft, service, scope }
        }).pipe(
          Effect.provideService(Transport, net.transport({ self: ids[i]!, ends: made.ends })),
          Effect.provideService(LogStorage.LogStorage, storage),
          Scope.extend(scope),
          Effect.orDie
        )
        for (let j = 0; j < n; j++) if (j !== i) yield* setEnd(j, ids[i]!, true)
      })

    /**
     * 6.824's ShutdownServer: member i's outgoing ends go dark, its server is deleted (calls to it fail
     * within 0–99 ms), its storage is copied, and it is killed (its scope closed).
     */
    const shutdown = (i: number) =>
      Effect.gen(function*() {
        for (const target of targets) yield* setEnd(i, target, false)
        yield* net.deleteServer(ids[i]!)
        if (saved[i] !== undefined) saved[i] = yield* saved[i]!.copy
        const member = members[i]
        members[i] = undefined
        if (member !== undefined) yield* Scope.close(member.scope, Exit.void)
      })

    const leader = Effect.gen(function*() {
      for (let i = 0; i < n; i++) {
        const m = members[i]
        if (m !== undefined && (yield* m.raft.status).role === "Leader") return i
      }
      return -1
    })

    /** Member i's storage sizes (from its saved storage; the persister, even while it is down). */
    const sizes = (i: number) => saved[i] === undefined ? Effect.succeed(undefined) : Effect.map(saved[i]!.sizes, (s) => s)

    yield* Effect.addFinalizer(() =>
      Effect.forEach(members, (m) => (m === undefined ? Effect.void : Scope.close(m.scope, Exit.void)), { discard: true })
    )

    return {
      ids,
      members,
      all,
      start,
      startAll: Effect.forEach(all, start, { discard: true }),
      shutdown,
      shutdownAll: Effect.forEach(all, shutdown, { discard: true }),
      connect,
      disconnect,
      connectAll,
      partition,
      leader,
      sizes
    }
  })

export type Group<S> = Effect.Effect.Success<ReturnType<typeof makeGroup<S>>>
