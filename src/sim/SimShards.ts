/**
 * `SimShards`: a simulated sharded key/value cluster for your own tests, the sibling of `SimCluster`:
 * a shard controller (a Raft group of `CtrlServer`s) and replica groups of `ShardKvServer`s, all with
 * memory storage on one `SimNetwork`, started in the current scope.
 *
 * `join` / `leave` / `move` change the configuration through the controller; the groups notice it
 * (their leaders poll the controller every 100 ms), move shards between them, and keep serving. Clients
 * (`client()`, a recorded `ShardKvClient`) route by the configuration and retry across moves; their
 * operations go into `history`, and `checkLinearizable` checks it. The faults are `SimCluster`'s:
 * `partition` / `heal` over nodes and clients, `crash` / `restart` of any server, `unreliable`.
 *
 * Moving shards takes time to pass (polls, pulls, retry pauses), so these tests read most naturally
 * under the Simulation kernel (`SimCluster.simulate`), where time moves by itself. Under Effect's
 * TestClock every wait needs an adjust: use `SimCluster.drive` around operations.
 * @since 0.1.0
 */
import { Data, Duration, Effect, Option, type Scope } from "effect"
import * as KvModel from "../check/models/Kv.js"
import { type NodeId, Transport } from "../rpc/Transport.js"
import type { Config, Gid, KeyToShard } from "../shardctrler/Config.js"
import * as CtrlClient from "../shardctrler/CtrlClient.js"
import * as CtrlServer from "../shardctrler/CtrlServer.js"
import * as ShardKvClient from "../shardkv/ShardKvClient.js"
import * as ShardKvServer from "../shardkv/ShardKvServer.js"
import { faults, type Group, makeGroup, makeNetwork, type NoLeader, type RaftOverrides } from "./internal/network.js"
import { drive } from "./internal/clock.js"
import * as Recorder from "./internal/recorder.js"
import type * as SimCluster from "./SimCluster.js"

/** Not every running server of the groups had adopted configuration `num` (and finished moving shards) in time. */
export class ConfigNotReached extends Data.TaggedError("ConfigNotReached")<{
  readonly num: number
  readonly within: Duration.Duration
}> {
  override get message() {
    return `the groups did not all adopt configuration ${this.num} within ${Duration.format(this.within)}`
  }
}

export interface Options {
  /** The replica groups' ids (each gid > 0), or how many (gids 100, 101, ...). None has joined at the start. */
  readonly groups: number | ReadonlyArray<Gid>
  /** Servers per group (named `g<gid>-1`, ...). Default 3. */
  readonly nodesPerGroup?: number
  /** Controller replicas (named `ctrl-1`, ...). Default 3. */
  readonly ctrlers?: number
  /** Shards of the cluster. Default 10. */
  readonly nShards?: number
  /** How keys map to shards. Default "hash". */
  readonly keyToShard?: KeyToShard
  /** Snapshot threshold of the groups' servers; -1 (the default) never. */
  readonly maxRaftState?: number
  readonly raft?: RaftOverrides
  /** As `SimCluster`'s: the cluster's own seeded `Random`. */
  readonly seed?: number
  /** As `SimCluster`'s: one-way delivery time of every message, in ms. */
  readonly latencyMs?: readonly [number, number]
}

/** Which Raft group: a replica group's gid, or "ctrl" for the controller. */
export type GroupRef = Gid | "ctrl"

/** A sharded cluster: its groups and configurations, clients, and `SimCluster`'s faults over every server. */
export interface ShardCluster extends SimCluster.Faults {
  readonly gids: ReadonlyArray<Gid>
  readonly ctrlers: ReadonlyArray<NodeId>
  /** The servers of group `gid`. */
  readonly servers: (gid: Gid) => ReadonlyArray<NodeId>
  /** Joins groups (with their servers) and rebalances; the new configuration. */
  readonly join: (gids: Gid | ReadonlyArray<Gid>) => Effect.Effect<Config, CtrlClient.CtrlError>
  /** Removes groups and rebalances; the new configuration. */
  readonly leave: (gids: Gid | ReadonlyArray<Gid>) => Effect.Effect<Config, CtrlClient.CtrlError>
  /** Assigns one shard to a group; the new configuration. */
  readonly move: (shard: number, gid: Gid) => Effect.Effect<Config, CtrlClient.CtrlError>
  /** The latest configuration (a linearizable query of the controller). */
  readonly config: Effect.Effect<Config, CtrlClient.CtrlError>
  /**
   * Waits until every running server of every group has adopted configuration `num` (or a later one)
   * and holds no shard in transit: each serves exactly what its configuration assigns it. Fails with
   * `ConfigNotReached` after `within` (default 30 s); under the TestClock it moves the clock in 100 ms steps.
   */
  readonly awaitConfig: (num: number, options?: { readonly within?: Duration.DurationInput }) => Effect.Effect<void, ConfigNotReached>
  /** A recorded client of the sharded service (deletes are recorded as puts of ""). */
  readonly client: (options?: { readonly name?: string }) => Effect.Effect<ShardKvClient.ShardKvClientShape>
  readonly leader: (group: GroupRef) => Effect.Effect<Option.Option<NodeId>>
  readonly awaitLeader: (group: GroupRef, options?: { readonly within?: Duration.DurationInput }) => Effect.Effect<NodeId, NoLeader>
  readonly history: Effect.Effect<KvModel.History>
  readonly checkLinearizable: (options?: Recorder.CheckOptions) => Effect.Effect<void, Recorder.NotLinearizable>
}

/** Starts the controller and the groups (none joined) in the current scope. */
export const make = (options: Options): Effect.Effect<ShardCluster, never, Scope.Scope> =>
  Effect.gen(function*() {
    const network = yield* makeNetwork(options)
    const gids = typeof options.groups === "number" ? Array.from({ length: options.groups }, (_, i) => 100 + i) : options.groups
    for (const gid of gids) if (!Number.isSafeInteger(gid) || gid <= 0) return yield* Effect.dieMessage(`SimShards: bad gid ${gid}`)
    const perGroup = options.nodesPerGroup ?? 3
    const ctrlers = Array.from({ length: options.ctrlers ?? 3 }, (_, i) => `ctrl-${i + 1}`)
    const names = new Map(gids.map((gid) => [gid, Array.from({ length: perGroup }, (_, i) => `g${gid}-${i + 1}`)] as const))
    const everyServer = [...names.values()].flat()

    const ctrl = yield* makeGroup({
      network,
      ids: ctrlers,
      raft: options.raft,
      service: () =>
        CtrlServer.make({
          maxRaftState: -1,
          ...(options.nShards === undefined ? {} : { nShards: options.nShards }),
          ...(options.keyToShard === undefined ? {} : { keyToShard: options.keyToShard })
        })
    })
    yield* ctrl.startAll
    const groups = new Map<Gid, Group<ShardKvServer.ShardKvServerShape>>()
    for (const gid of gids) {
      const ids = names.get(gid)!
      const group = yield* makeGroup({
        network,
        ids,
        others: [...ctrlers, ...everyServer.filter((s) => !ids.includes(s))],
        raft: options.raft,
        service: () => ShardKvServer.make({ gid, ctrlers, maxRaftState: options.maxRaftState ?? -1 })
      })
      yield* group.startAll
      groups.set(gid, group)
    }

    const groupOf = (ref: GroupRef) => {
      const g = ref === "ctrl" ? ctrl : groups.get(ref)
      if (g === undefined) throw new Error(`SimShards: unknown group ${ref} (groups: ${gids.join(", ")})`)
      return g
    }
    const groupOfServer = (server: NodeId) => {
      if (ctrlers.includes(server)) return ctrl
      for (const g of groups.values()) if (g.ids.includes(server)) return g
      throw new Error(`SimShards: unknown server ${server}`)
    }

    network.claim("admin")
    const admin = yield* CtrlClient.make({ servers: ctrlers }).pipe(
      Effect.provideServiceEffect(Transport, network.transport("admin", ctrlers)),
      network.seeded
    )
    const list = (g: Gid | ReadonlyArray<Gid>): ReadonlyArray<Gid> => (typeof g === "number" ? [g] : g)
    const serversOf = (gid: Gid) => {
      const s = names.get(gid)
      if (s === undefined) throw new Error(`SimShards: unknown group ${gid} (groups: ${gids.join(", ")})`)
      return s
    }

    const settled = (num: number) =>
      Effect.gen(function*() {
        for (const g of groups.values()) {
          for (const id of g.ids) {
            const server = g.service(id)
            if (Option.isNone(server)) continue
            const status = yield* server.value.status
            if (status.config < num) return false
            if (Object.values(status.shards).some((s) => s !== "serving")) return false
          }
        }
        return true
      })
    const awaitConfig = (num: number, o: { readonly within?: Duration.DurationInput } = {}) => {
      const within = Duration.decode(o.within ?? "30 seconds")
      const poll: Effect.Effect<void> = Effect.flatMap(settled(num), (ok) => (ok ? Effect.void : Effect.zipRight(Effect.sleep("100 millis"), poll)))
      return Effect.flatMap(
        drive(poll, { step: "100 millis", within }),
        Option.match({
          onSome: () => Effect.void,
          onNone: () => Effect.fail(new ConfigNotReached({ num, within }))
        })
      )
    }

    const recorder = Recorder.make<KvModel.KvInput, KvModel.KvOutput>()
    let clients = 0
    const client = (o: { readonly name?: string } = {}) =>
      Effect.gen(function*() {
        const lane = clients++
        const name = o.name ?? `client-${lane + 1}`
        network.claim(name)
        const transport = yield* network.transport(name, [...ctrlers, ...everyServer])
        const inner = yield* ShardKvClient.make({ ctrlers }).pipe(Effect.provideService(Transport, transport), network.seeded)
        return Recorder.recordKv(recorder, lane, inner, network.seeded)
      })

    return {
      gids,
      ctrlers,
      servers: serversOf,
      join: (g) => network.seeded(admin.join(new Map(list(g).map((gid) => [gid, serversOf(gid)] as const)))),
      leave: (g) => network.seeded(admin.leave(list(g))),
      move: (shard, gid) => network.seeded(admin.move(shard, gid)),
      config: network.seeded(admin.query()),
      awaitConfig,
      client,
      leader: (ref) => Effect.suspend(() => groupOf(ref).leader),
      awaitLeader: (ref, o) => Effect.suspend(() => groupOf(ref).awaitLeader(o)),
      ...faults(network, groupOfServer),
      history: Effect.sync(() => [...recorder.history]),
      checkLinearizable: (o) => recorder.check(KvModel.model, o)
    } satisfies ShardCluster
  })
