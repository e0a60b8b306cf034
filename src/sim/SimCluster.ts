/**
 * `SimCluster`: a simulated Concord cluster for your own tests (hashicorp/raft's `MakeCluster`, etcd's
 * `integration` package, the Effect way).
 *
 * `make({ nodes: 3, kv: true })` starts three Raft nodes with memory storage on one `SimNetwork`, a
 * `KvServer` on each, in the current scope; `make({ nodes: 3, stateMachine, command })` runs your own
 * `ReplicatedStateMachine.StateMachine` instead. You get:
 * - clients: `client()` (a `KvClient`, or `execute`/`read` on your state machine routed to the leader),
 *   whose operations are recorded into `history`; `checkLinearizable` runs the shipped checker on it;
 * - controls: `leader`, `awaitLeader`, `partition` / `heal`, `crash` / `restart` (storage survives a
 *   crash, as a disk would), `unreliable`, RPC counts (`rpcs`), and each node's `raft`.
 *
 * It runs under either test clock, because every part of the library takes time from `Clock` only:
 * - Effect's `TestClock` (`it.effect` / `it.scoped` of `@effect/vitest`): time moves only when the test
 *   calls `TestClock.adjust`. An operation that needs time to pass (an election, a retry pause, a
 *   timeout) waits until the test moves the clock: fork it, adjust, then join it. `awaitLeader` moves
 *   the clock itself, in heartbeat-sized steps.
 * - the `Simulation` kernel (`Simulation.run`, or `SimCluster.simulate`): time jumps to the next timer
 *   whenever every fiber waits, and `Random` is seeded, so a run replays from its seed.
 * With no network latency (the default) a message arrives in the same instant it is sent, so a write
 * to a healthy cluster completes without any time passing; `latencyMs` models a real network.
 * @since 0.1.0
 */
import { Cause, Context, Data, Duration, Effect, Exit, Layer, Option, type Schema, type Scope } from "effect"
import { randomInt } from "node:crypto"
import type * as History from "../check/History.js"
import type { Model } from "../check/Model.js"
import * as KvModel from "../check/models/Kv.js"
import * as KvClient from "../kv/KvClient.js"
import * as KvServer from "../kv/KvServer.js"
import type { NotLeader } from "../raft/Messages.js"
import type { EntryTooLarge, NodeStopped, RaftShape } from "../raft/Raft.js"
import * as Rsm from "../raft/ReplicatedStateMachine.js"
import { type NodeId, Transport } from "../rpc/Transport.js"
import type { SimNetworkShape } from "../rpc/SimNetwork.js"
import type { MemoryStorage } from "../storage/MemoryStorage.js"
import * as Simulation from "./Simulation.js"
import { advance as advanceClock, drive as driveClock } from "./internal/clock.js"
import { faults, type Group, makeGroup, makeNetwork, type Network, NoLeader, type RaftOverrides, type RpcCounts } from "./internal/network.js"
import * as Recorder from "./internal/recorder.js"

export { NoLeader, type RpcCounts }
export { type CheckOptions, NotLinearizable } from "./internal/recorder.js"

/** What every cluster is made from. */
export interface BaseOptions {
  /** How many nodes (named `n1`, `n2`, ...), or their ids. */
  readonly nodes: number | ReadonlyArray<NodeId>
  /** Raft settings of every node; default `RaftConfig.defaults` (500 ms election timeout, 100 ms heartbeats). */
  readonly raft?: RaftOverrides
  /**
   * Seed of the cluster's own `Random` (election timeouts, the network's faults, client ids). Without
   * it the cluster uses the fiber's `Random`: seeded under the Simulation kernel, unseeded under
   * `@effect/vitest`, which is fine for assertions that hold whichever node wins an election.
   */
  readonly seed?: number
  /** One-way delivery time of every message, uniform in [min, max] ms. Default none (same instant). */
  readonly latencyMs?: readonly [number, number]
}

/** A cluster of `KvServer`s. */
export interface KvOptions extends BaseOptions {
  /** `true`, or the servers' options (`maxRaftState` -1, never snapshot, unless given). */
  readonly kv: true | Partial<KvServer.Options>
}

/** A cluster running your own state machine. */
export interface ReplicatedOptions<S, C, R, I> extends BaseOptions {
  readonly stateMachine: Rsm.StateMachine<S, C, R>
  /** How commands are stored in the log. */
  readonly command: Schema.Schema<C, I>
  /** Snapshot once the log exceeds this many bytes; -1 never (the default here). */
  readonly snapshotLogBytes?: number
}

/** Options of a client of the cluster. */
export interface ClientOptions {
  /** Its name on the network, for `partition` (default `client-1`, `client-2`, ...). */
  readonly name?: string
  /** The servers it knows (default: all). A client that knows only one server follows no leader hint. */
  readonly servers?: ReadonlyArray<NodeId>
}

/** The faults and views every simulated cluster has (`SimCluster`'s and `SimShards`'). */
export interface Faults {
  /**
   * Cuts every link between members of different groups. Groups name nodes and clients; a node or
   * client named in no group keeps all its links. Replaces any earlier partition.
   */
  readonly partition: (groups: ReadonlyArray<ReadonlyArray<string>>) => Effect.Effect<void>
  /** Restores every link. */
  readonly heal: Effect.Effect<void>
  /** Stops a node as a crash does: its fibers are interrupted, calls to it fail; its storage stays. */
  readonly crash: (id: NodeId) => Effect.Effect<void>
  /** Starts a node again over what its storage held when it crashed (a running node is crashed first). */
  readonly restart: (id: NodeId) => Effect.Effect<void>
  /** Whether the node runs. */
  readonly isUp: (id: NodeId) => boolean
  /** Unreliable network: 10% of requests and 10% of replies lost, 0–26 ms delays (6.824's labrpc). */
  readonly unreliable: (on: boolean) => Effect.Effect<void>
  /** RPCs sent so far, by sender and by type. */
  readonly rpcs: Effect.Effect<RpcCounts>
  /** The node's Raft service while it runs (status, counters, events, `transferLeadership`). */
  readonly raft: (id: NodeId) => Option.Option<RaftShape>
  /** The node's storage (survives crashes; `sizes` tells how large its log and snapshot are). */
  readonly storage: (id: NodeId) => MemoryStorage | undefined
  /** The simulated network, for faults beyond these (long delays, reordering, dropped replies). */
  readonly network: SimNetworkShape
}

/** The controls of a cluster of one Raft group. */
export interface Controls extends Faults {
  readonly ids: ReadonlyArray<NodeId>
  /** The leader of the highest term among the running nodes, if any (a stale, partitioned-away leader loses). */
  readonly leader: Effect.Effect<Option.Option<NodeId>>
  /**
   * Waits until a node (of `among`, default all) leads, and returns it: under the TestClock it moves
   * the clock in heartbeat-sized steps, under other clocks it sleeps. Fails with `NoLeader` after
   * `within` (default 10 s).
   */
  readonly awaitLeader: (options?: {
    readonly among?: ReadonlyArray<NodeId>
    readonly within?: Duration.DurationInput
  }) => Effect.Effect<NodeId, NoLeader>
}

/** A cluster of key/value servers. */
export interface KvCluster extends Controls {
  /** A recorded `KvClient` of the cluster (deletes are recorded as puts of ""). */
  readonly client: (options?: ClientOptions) => Effect.Effect<KvClient.KvClientShape>
  /** A new recorded client as the `KvClient` service, for application code that asks for one. */
  readonly clientLayer: (options?: ClientOptions) => Layer.Layer<KvClient.KvClient>
  /** The node's `KvServer` while it runs. */
  readonly server: (id: NodeId) => Option.Option<KvServer.KvServerShape>
  /** The operations clients made so far; those that did not return (timed out) are pending. */
  readonly history: Effect.Effect<KvModel.History>
  /** Checks `history` against the key/value model; fails with `NotLinearizable` and an explanation. */
  readonly checkLinearizable: (options?: Recorder.CheckOptions) => Effect.Effect<void, Recorder.NotLinearizable>
}

/** A client operation on a replicated state machine, as the history records it. */
export type ReplicatedInput<C> =
  | { readonly op: "execute"; readonly command: C }
  /** A read; `label` is what the client passed, so that a model can tell reads apart. */
  | { readonly op: "read"; readonly label: string }

/** The caller's timeout passed first. An `execute` may still take effect. */
export class ReplicaTimeout extends Data.TaggedError("ReplicaTimeout")<{
  readonly op: "execute" | "read"
  readonly after: Duration.Duration
}> {
  override get message() {
    return `${this.op} did not complete within ${Duration.format(this.after)}`
  }
}

/** What `execute` may fail with: the timeout, or an outcome the client cannot retry safely. */
export type ExecuteError = ReplicaTimeout | EntryTooLarge | Rsm.OutcomeUnknown | NodeStopped

/** A client of a replicated state machine: finds the leader, retries where nothing took effect. */
export interface ReplicatedClient<S, C, R> {
  /**
   * Executes `command` on the leader and returns its result. Retried (after a 20 ms pause) while no
   * node it knows leads or the proposal was dropped by a leader change; it fails when the outcome is
   * unknown (the node stopped or a snapshot covered it) or when `timeout` passes.
   */
  readonly execute: (command: C, options?: { readonly timeout?: Duration.DurationInput }) => Effect.Effect<R, ExecuteError>
  /** A linearizable read on the leader (recorded under `label`, default "read"). */
  readonly read: <A>(
    f: (state: S) => A,
    options?: { readonly timeout?: Duration.DurationInput; readonly label?: string }
  ) => Effect.Effect<A, ReplicaTimeout>
}

/** A cluster running your state machine. */
export interface ReplicatedCluster<S, C, R> extends Controls {
  /**
   * A client of the replicated state machine. (As a service for application code: a Tag of your own,
   * `class Counter extends Context.Tag("Counter")<Counter, ReplicatedClient<…>>() {}`, and
   * `Layer.effect(Counter, cluster.client())`.)
   */
  readonly client: (options?: ClientOptions) => Effect.Effect<ReplicatedClient<S, C, R>>
  /** The node's replicated state machine while it runs (`local` shows its state without a read). */
  readonly replica: (id: NodeId) => Option.Option<Rsm.ReplicatedStateMachine<S, C, R>>
  readonly history: Effect.Effect<History.History<ReplicatedInput<C>, unknown>>
  /** Checks `history` against your sequential model of the state machine. */
  readonly checkLinearizable: <M>(
    model: Model<M, ReplicatedInput<C>, unknown>,
    options?: Recorder.CheckOptions
  ) => Effect.Effect<void, Recorder.NotLinearizable>
}

const nodeIds = (nodes: number | ReadonlyArray<NodeId>): ReadonlyArray<NodeId> =>
  typeof nodes === "number" ? Array.from({ length: nodes }, (_, i) => `n${i + 1}`) : nodes

const controls = <S>(network: Network, group: Group<S>): Controls => ({
  ...faults(network, () => group),
  ids: group.ids,
  leader: group.leader,
  awaitLeader: group.awaitLeader
})

/** Names clients `client-1`, `client-2`, ... and gives each a lane in the history. */
const clientNamer = (network: Network) => {
  let count = 0
  return (options: ClientOptions | undefined) => {
    const lane = count++
    const name = options?.name ?? `client-${lane + 1}`
    network.claim(name)
    return { lane, name }
  }
}

const serversOf = (ids: ReadonlyArray<NodeId>, options: ClientOptions | undefined) => {
  const servers = options?.servers ?? ids
  for (const s of servers) if (!ids.includes(s)) throw new Error(`SimCluster: unknown server ${s} (nodes: ${ids.join(", ")})`)
  return servers
}

const makeKv = (options: KvOptions): Effect.Effect<KvCluster, never, Scope.Scope> =>
  Effect.gen(function*() {
    const network = yield* makeNetwork(options)
    const serverOptions: KvServer.Options = { maxRaftState: -1, ...(options.kv === true ? {} : options.kv) }
    const group = yield* makeGroup({
      network,
      ids: nodeIds(options.nodes),
      raft: options.raft,
      service: () => KvServer.make(serverOptions)
    })
    yield* group.startAll
    const recorder = Recorder.make<KvModel.KvInput, KvModel.KvOutput>()
    const nextClient = clientNamer(network)

    const client = (o?: ClientOptions) =>
      Effect.gen(function*() {
        const { lane, name } = nextClient(o)
        const servers = serversOf(group.ids, o)
        const transport = yield* network.transport(name, servers)
        const inner = yield* KvClient.make({ servers }).pipe(Effect.provideService(Transport, transport), network.seeded)
        return Recorder.recordKv(recorder, lane, inner, network.seeded)
      })

    return {
      ...controls(network, group),
      client,
      clientLayer: (o) => Layer.effect(KvClient.KvClient, client(o)),
      server: group.service,
      history: Effect.sync(() => [...recorder.history]),
      checkLinearizable: (o) => recorder.check(KvModel.model, o)
    } satisfies KvCluster
  })

const makeReplicated = <S, C, R, I>(options: ReplicatedOptions<S, C, R, I>): Effect.Effect<ReplicatedCluster<S, C, R>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const network = yield* makeNetwork(options)
    const group = yield* makeGroup({
      network,
      ids: nodeIds(options.nodes),
      raft: options.raft,
      service: () => Rsm.make(options.stateMachine, { command: options.command, snapshotLogBytes: options.snapshotLogBytes ?? -1 })
    })
    yield* group.startAll
    const recorder = Recorder.make<ReplicatedInput<C>, unknown>()
    const nextClient = clientNamer(network)
    const pause = Duration.millis(20)

    const client = (o?: ClientOptions): Effect.Effect<ReplicatedClient<S, C, R>> =>
      Effect.sync(() => {
        // The application sits beside the nodes, in the same process: it calls the leader's replica
        // directly (no client RPC), so a partition does not separate it from any node.
        const { lane } = nextClient(o)
        const servers = serversOf(group.ids, o)
        let next = 0
        /** Runs `f` on the first running server (from the last that worked) that takes it; retries the rest. */
        const onLeader = <A, E, Retried extends { readonly _tag: string }>(
          f: (rsm: Rsm.ReplicatedStateMachine<S, C, R>) => Effect.Effect<A, E | Retried>,
          retried: ReadonlyArray<Retried["_tag"]>
        ): Effect.Effect<A, E> => {
          const attempt = (tried: number): Effect.Effect<A, E> =>
            Effect.suspend(() => {
              if (tried === servers.length) return Effect.zipRight(Effect.sleep(pause), attempt(0))
              const id = servers[next]!
              const rsm = group.service(id)
              const moveOn = () => {
                next = (next + 1) % servers.length
                return attempt(tried + 1)
              }
              if (Option.isNone(rsm)) return moveOn()
              return Effect.catchIf(f(rsm.value), (e): e is Retried => retried.includes((e as { readonly _tag: string })._tag), (e) => {
                const hint = e._tag === "NotLeader" ? (e as unknown as NotLeader).leaderHint : null
                const hinted = hint === null ? -1 : servers.indexOf(hint)
                if (hinted >= 0 && hinted !== next) {
                  next = hinted
                  return attempt(tried + 1)
                }
                return moveOn()
              }) as Effect.Effect<A, E>
            })
          return attempt(0)
        }
        const within = <A, E>(op: "execute" | "read", effect: Effect.Effect<A, E>, timeout: Duration.DurationInput | undefined) =>
          timeout === undefined
            ? effect
            : Effect.timeoutFail(effect, { duration: timeout, onTimeout: () => new ReplicaTimeout({ op, after: Duration.decode(timeout) }) })
        return {
          execute: (command, eo) =>
            network.seeded(
              recorder.record(
                lane,
                { op: "execute", command },
                within(
                  "execute",
                  onLeader<R, EntryTooLarge | Rsm.OutcomeUnknown | NodeStopped, NotLeader | Rsm.ProposalDropped>(
                    (rsm) => rsm.execute(command),
                    ["NotLeader", "ProposalDropped"]
                  ),
                  eo?.timeout
                ),
                (r) => r,
                (e) => e._tag === "EntryTooLarge"
              )
            ),
          read: <A>(f: (state: S) => A, ro?: { readonly timeout?: Duration.DurationInput; readonly label?: string }) =>
            network.seeded(
              recorder.record(
                lane,
                { op: "read", label: ro?.label ?? "read" },
                // A read changes nothing: one on a node that stopped meanwhile is simply tried elsewhere.
                within("read", onLeader<A, never, NotLeader | NodeStopped>((rsm) => rsm.read(f), ["NotLeader", "NodeStopped"]), ro?.timeout),
                (a) => a
              )
            )
        }
      })

    return {
      ...controls(network, group),
      client,
      replica: group.service,
      history: Effect.sync(() => [...recorder.history]),
      checkLinearizable: (model, o) => recorder.check(model, o)
    } satisfies ReplicatedCluster<S, C, R>
  })

/**
 * Starts a simulated cluster in the current scope (closing the scope stops every node). With `kv`,
 * a key/value cluster; with `stateMachine` and `command`, your replicated state machine.
 */
export function make(options: KvOptions): Effect.Effect<KvCluster, never, Scope.Scope>
export function make<S, C, R, I>(options: ReplicatedOptions<S, C, R, I>): Effect.Effect<ReplicatedCluster<S, C, R>, never, Scope.Scope>
export function make<S, C, R, I>(
  options: KvOptions | ReplicatedOptions<S, C, R, I>
): Effect.Effect<KvCluster | ReplicatedCluster<S, C, R>, never, Scope.Scope> {
  return "kv" in options ? makeKv(options) : makeReplicated(options)
}

/** The key/value cluster of `layer`, as a service. */
export class SimCluster extends Context.Tag("concord/SimCluster")<SimCluster, KvCluster>() {}

/**
 * A key/value cluster as a Layer: the cluster (`SimCluster`) and a recorded `KvClient` of it (the
 * cluster's first client, `client-1`). The nodes run while the Layer lives.
 */
export const layer = (options: Omit<KvOptions, "kv"> & { readonly kv?: KvOptions["kv"] }): Layer.Layer<SimCluster | KvClient.KvClient> =>
  Layer.scopedContext(
    Effect.gen(function*() {
      const cluster = yield* makeKv({ ...options, kv: options.kv ?? true })
      const client = yield* cluster.client()
      return Context.make(SimCluster, cluster).pipe(Context.add(KvClient.KvClient, client))
    })
  )

/** Lets `duration` pass, under either clock: `TestClock.adjust` under the TestClock, a sleep otherwise. */
export const advance: (duration: Duration.DurationInput) => Effect.Effect<void> = advanceClock

/**
 * Runs `effect` while letting time pass in steps of `step` (default 100 ms), for at most `within`
 * (default 10 s): its result, or `None` if it had not finished by then (it is interrupted). Under
 * the TestClock this forks the effect and adjusts the clock; under other clocks it is a timeout.
 */
export const drive = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options: { readonly step?: Duration.DurationInput; readonly within?: Duration.DurationInput } = {}
): Effect.Effect<Option.Option<A>, E, R> =>
  driveClock(effect, { step: options.step ?? "100 millis", within: options.within ?? "10 seconds" })

/** Options of `simulate`. */
export interface SimulateOptions {
  /** The seed; default `SEED` from the environment, else a fresh one (reported if the run fails). */
  readonly seed?: number
  /** Simulated-time budget of the run. Default 120 s. */
  readonly timeLimit?: Duration.DurationInput
}

/**
 * Runs a scoped `effect` inside the Simulation kernel, for a test: seeded (`SEED=<n>` in the
 * environment replays a run; `CONCORD_SWEEP=<count>` runs count seeds), with a simulated-time limit.
 * Resolves with the effect's value, the seed and the run's statistics (of the last seed); rejects with
 * an error naming every failing seed and how to replay it.
 */
export const simulate = async <A, E>(
  effect: Effect.Effect<A, E, Scope.Scope>,
  options: SimulateOptions = {}
): Promise<{ readonly value: A; readonly seed: number; readonly stats: Simulation.RunStats }> => {
  const plan = options.seed !== undefined
    ? { seeds: [options.seed], sweep: false }
    : Simulation.seedPlan(process.env, () => randomInt(1, 2 ** 31 - 1))
  let last: { readonly value: A; readonly seed: number; readonly stats: Simulation.RunStats } | undefined
  const failures: Array<string> = []
  for (const seed of plan.seeds) {
    const { exit, stats } = await Simulation.run(Effect.scoped(effect), { seed, timeLimit: options.timeLimit ?? "120 seconds" })
    if (Exit.isSuccess(exit)) last = { value: exit.value, seed, stats }
    else {
      failures.push(`seed ${seed} failed at t=${stats.simulatedMs}ms (replay: SEED=${seed}):\n${Cause.pretty(exit.cause)}`)
      if (!plan.sweep) break
    }
  }
  if (failures.length > 0) throw new Error(failures.join("\n"))
  return last!
}
