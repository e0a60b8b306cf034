/**
 * The parts of the public test kit (`SimCluster`, `SimShards`) below the services: one `SimNetwork`
 * whose links are named `from->to` between endpoints (nodes and clients), partitions over those
 * names, RPC counters, and Raft groups whose members crash and restart over storage that survives.
 */
import { Data, Duration, Effect, Exit, Option, Random, Scope } from "effect"
import * as LogStorage from "../../raft/LogStorage.js"
import * as Raft from "../../raft/Raft.js"
import * as RaftConfig from "../../raft/RaftConfig.js"
import * as SimNetwork from "../../rpc/SimNetwork.js"
import { type NodeId, Transport, type TransportShape } from "../../rpc/Transport.js"
import * as MemoryStorage from "../../storage/MemoryStorage.js"
import { drive } from "./clock.js"

/** RPCs sent so far (by nodes and clients), counted as they enter the network. */
export interface RpcCounts {
  readonly total: number
  /** By sender (a node id or a client name). */
  readonly bySender: Readonly<Record<string, number>>
  /** By request tag (`RequestVote`, `AppendEntries`, `Heartbeat`, `KvWrite`, ...). */
  readonly byType: Readonly<Record<string, number>>
}

/** No leader was elected within the time `awaitLeader` allowed. */
export class NoLeader extends Data.TaggedError("NoLeader")<{
  readonly among: ReadonlyArray<NodeId>
  readonly within: Duration.Duration
}> {
  override get message() {
    return `no leader among ${this.among.join(", ")} within ${Duration.format(this.within)}`
  }
}

export interface NetworkOptions {
  readonly seed?: number | undefined
  readonly latencyMs?: readonly [number, number] | undefined
}

export const makeNetwork = (options: NetworkOptions) =>
  Effect.gen(function*() {
    const net = yield* SimNetwork.make()
    if (options.latencyMs !== undefined) yield* net.setLatency(options.latencyMs[0], options.latencyMs[1])
    const random = options.seed === undefined ? undefined : Random.make(options.seed)
    /** Runs `effect` with the cluster's seeded Random, if it has one (fibers it forks inherit it). */
    const seeded = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      random === undefined ? effect : Effect.withRandom(effect, random)
    const links = new Map<string, { readonly from: string; readonly to: string }>()
    const names = new Set<string>()
    let groupOf = new Map<string, number>()
    let total = 0
    const bySender: Record<string, number> = {}
    const byType: Record<string, number> = {}

    const allowed = (from: string, to: string) => {
      const a = groupOf.get(from)
      const b = groupOf.get(to)
      return a === undefined || b === undefined || a === b
    }

    const claim = (name: string) => {
      if (names.has(name)) throw new Error(`SimCluster: the name ${name} is taken (node ids and client names must be unique)`)
      names.add(name)
    }

    /** A counted full-mesh transport for `self` to `targets`, its links set by the current partition. */
    const transport = (self: string, targets: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const inner = yield* net.meshTransport(self, targets)
        for (const to of targets) {
          const name = `${self}->${to}`
          links.set(name, { from: self, to })
          yield* net.enable(name, allowed(self, to))
        }
        const counted: TransportShape = {
          ...inner,
          call: (to, request, callOptions) =>
            Effect.suspend(() => {
              total++
              bySender[self] = (bySender[self] ?? 0) + 1
              const tag = (request as { readonly _tag: string })._tag
              byType[tag] = (byType[tag] ?? 0) + 1
              return inner.call(to, request, callOptions)
            })
        }
        return counted
      })

    const apply = Effect.forEach(links, ([name, l]) => net.enable(name, allowed(l.from, l.to)), { discard: true })

    return {
      net,
      seeded,
      claim,
      transport,
      /** Cuts every link between endpoints of different groups; endpoints not named keep all their links. */
      partition: (groups: ReadonlyArray<ReadonlyArray<string>>) =>
        Effect.suspend(() => {
          const next = new Map<string, number>()
          groups.forEach((g, i) =>
            g.forEach((name) => {
              if (!names.has(name)) throw new Error(`SimCluster.partition: unknown node or client ${name}`)
              if (next.has(name)) throw new Error(`SimCluster.partition: ${name} is in two groups`)
              next.set(name, i)
            })
          )
          groupOf = next
          return apply
        }),
      heal: Effect.suspend(() => {
        groupOf = new Map()
        return apply
      }),
      unreliable: (on: boolean) => net.setReliable(!on),
      rpcs: Effect.sync((): RpcCounts => ({ total, bySender: { ...bySender }, byType: { ...byType } }))
    }
  })

export type Network = Effect.Effect.Success<ReturnType<typeof makeNetwork>>

/** The Raft timing of the kit: the library's defaults (500 ms election timeout, 100 ms heartbeats). */
export type RaftOverrides = Partial<Omit<RaftConfig.RaftConfig, "id" | "peers">>

interface Member<S> {
  readonly raft: Raft.RaftShape
  readonly service: S
  readonly scope: Scope.CloseableScope
}

export interface GroupOptions<S> {
  readonly network: Network
  readonly ids: ReadonlyArray<NodeId>
  /** Servers outside the group that members call (controllers, other groups). */
  readonly others?: ReadonlyArray<string>
  readonly raft?: RaftOverrides | undefined
  readonly service: (id: NodeId) => Effect.Effect<S, unknown, Raft.Raft | Transport | Scope.Scope>
}

/** A Raft group: members that crash and restart over their memory storage. */
export const makeGroup = <S>(options: GroupOptions<S>) =>
  Effect.gen(function*() {
    const { network, ids } = options
    if (ids.length === 0) return yield* Effect.dieMessage("SimCluster: a group needs at least one node")
    for (const id of ids) network.claim(id)
    const targets = [...ids, ...(options.others ?? [])]
    const config = (id: NodeId) => RaftConfig.make({ id, peers: ids, ...options.raft })
    const members = new Map<NodeId, Member<S>>()
    const storage = new Map<NodeId, MemoryStorage.MemoryStorage>()
    const heartbeatMs = config(ids[0]!).heartbeatIntervalMs

    const known = (id: NodeId) => {
      if (!ids.includes(id)) throw new Error(`SimCluster: unknown node ${id} (nodes: ${ids.join(", ")})`)
    }

    const crash = (id: NodeId) =>
      Effect.suspend(() => {
        known(id)
        const m = members.get(id)
        if (m === undefined) return Effect.void
        members.delete(id)
        return Effect.gen(function*() {
          // Calls to it fail from now on (in flight ones too); its fibers stop with its scope.
          yield* network.net.deleteServer(id)
          yield* Scope.close(m.scope, Exit.void)
          // What was durable survives; the next incarnation gets a copy (nothing of the old one can touch it).
          const s = storage.get(id)
          if (s !== undefined) storage.set(id, yield* s.copy)
        })
      })

    const start = (id: NodeId) =>
      Effect.gen(function*() {
        known(id)
        yield* crash(id)
        const s = storage.get(id) ?? (yield* MemoryStorage.make)
        storage.set(id, s)
        const transport = yield* network.transport(id, targets)
        const scope = yield* Scope.make()
        const member = yield* Effect.gen(function*() {
          const raft = yield* Raft.make(config(id))
          const service = yield* options.service(id).pipe(Effect.provideService(Raft.Raft, raft))
          return { raft, service, scope }
        }).pipe(
          Effect.provideService(Transport, transport),
          Effect.provideService(LogStorage.LogStorage, s),
          Scope.extend(scope),
          network.seeded,
          Effect.orDie
        )
        members.set(id, member)
      })

    /** The leader of the highest term among the running members of `among` (a stale leader loses). */
    const leaderOf = (among: ReadonlyArray<NodeId>) =>
      Effect.gen(function*() {
        let best: { id: NodeId; term: number } | undefined
        for (const id of among) {
          const m = members.get(id)
          if (m === undefined) continue
          const s = yield* m.raft.status
          if (s.role === "Leader" && (best === undefined || s.term > best.term)) best = { id, term: s.term }
        }
        return Option.fromNullable(best?.id)
      })

    const awaitLeader = (o: { readonly among?: ReadonlyArray<NodeId>; readonly within?: Duration.DurationInput } = {}) => {
      const among = o.among ?? ids
      among.forEach(known)
      const within = Duration.decode(o.within ?? "10 seconds")
      const poll: Effect.Effect<NodeId> = Effect.flatMap(
        leaderOf(among),
        Option.match({ onSome: Effect.succeed, onNone: () => Effect.zipRight(Effect.sleep(Duration.millis(heartbeatMs)), poll) })
      )
      // Under the TestClock `drive` adjusts the clock while the poll sleeps; elsewhere time moves by itself.
      return Effect.flatMap(
        drive(poll, { step: Duration.millis(heartbeatMs), within }),
        Option.match({ onSome: Effect.succeed, onNone: () => Effect.fail(new NoLeader({ among, within })) })
      )
    }

    yield* Effect.addFinalizer(() => Effect.forEach([...members.keys()], crash, { discard: true }))

    return {
      ids,
      heartbeatMs,
      start,
      crash,
      startAll: Effect.forEach(ids, start, { discard: true }),
      members,
      leader: leaderOf(ids),
      leaderOf,
      awaitLeader,
      raft: (id: NodeId) => {
        known(id)
        return Option.map(Option.fromNullable(members.get(id)), (m) => m.raft)
      },
      service: (id: NodeId) => {
        known(id)
        return Option.map(Option.fromNullable(members.get(id)), (m) => m.service)
      },
      storage: (id: NodeId) => {
        known(id)
        return storage.get(id)
      }
    }
  })

export type Group<S> = Effect.Effect.Success<ReturnType<typeof makeGroup<S>>>

/** The faults and views of a cluster whose servers are the members of `groupOf(server)`'s group. */
export const faults = (network: Network, groupOf: (server: NodeId) => Group<unknown>) => ({
  partition: network.partition,
  heal: network.heal,
  crash: (id: NodeId) => Effect.suspend(() => groupOf(id).crash(id)),
  restart: (id: NodeId) => Effect.suspend(() => groupOf(id).start(id)),
  isUp: (id: NodeId) => Option.isSome(groupOf(id).raft(id)),
  unreliable: network.unreliable,
  rpcs: network.rpcs,
  raft: (id: NodeId) => groupOf(id).raft(id),
  storage: (id: NodeId) => groupOf(id).storage(id),
  network: network.net
})
