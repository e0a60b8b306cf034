/**
 * `ShardKvServer`: one replica of one group of the sharded key/value service (6.824 lab 4B, with both
 * challenges), on the node's `Raft`, over the node's `Transport`.
 *
 * - Clients' reads (ReadIndex) and writes (through the log) are served for the keys of shards the
 *   group serves now; any other key answers `WrongGroup`. Writes execute once per (client id, seq) in
 *   the shard's own duplicate table, which moves with the shard.
 * - The leader polls the controller about every 100 ms and proposes the next config once the group is
 *   stable; every step of a reconfiguration is a log entry (see `ShardStateMachine`).
 * - The leader pulls the shards the group gained from their previous owners, page by page
 *   (`PullShard`), and proposes each page; a shard serves once its last page is applied.
 * - Garbage collection: for each shard it received, the leader tells the previous owner to delete
 *   it (`DeleteShards`), and records the confirmation.
 * - It answers other groups' `PullShard` for shards it gave away (their data is frozen from the config
 *   that took them away), and their `DeleteShards`.
 * Snapshots bound the log as in the key/value service (`maxRaftState`).
 * @since 0.1.0
 */
import { Effect, Either, Fiber, type Scope } from "effect"
import * as Limits from "../kv/Limits.js"
import type { StorageError } from "../raft/LogStorage.js"
import { NotLeader } from "../raft/Messages.js"
import type { Raft } from "../raft/Raft.js"
import * as Rsm from "../raft/ReplicatedStateMachine.js"
import type { StateMachine } from "../raft/ReplicatedStateMachine.js"
import * as Answer from "../replica/Answer.js"
import { replicaStatus } from "../replica/Status.js"
import * as Clerk from "../replica/Clerk.js"
import { type InvalidRequest, Retry } from "../replica/Messages.js"
import * as Sessions from "../replica/Sessions.js"
import { type NodeId, Transport } from "../rpc/Transport.js"
import { type Gid, toWire } from "../shardctrler/Config.js"
import * as CtrlClient from "../shardctrler/CtrlClient.js"
import { DeleteShards, PullShard, ShardKvProtocol, type ShardKvRequest, ShardNodeStatus, ShardPage, WrongGroup } from "./Messages.js"
import * as Group from "./ShardStateMachine.js"

export interface Options {
  /** This replica's group. */
  readonly gid: Gid
  /** The controller replicas (their names on the Transport). */
  readonly ctrlers: ReadonlyArray<NodeId>
  /** Snapshot when the Raft state nears this many bytes; −1 never. */
  readonly maxRaftState: number
  /** A request not applied within this time is answered with `Retry`. Default 1000 ms. */
  readonly requestTimeoutMs?: number
  /** How often the leader asks the controller for the next config. Default 100 ms. */
  readonly pollIntervalMs?: number
  /** Largest page of a shard's data sent in one `PullShard` answer (and one log entry). Default 1 MiB. */
  readonly pageBytes?: number
  readonly limits?: Limits.Limits
  /** Member addresses to report in the status (a real deployment passes its peers map). */
  readonly peers?: Readonly<Record<string, string>>
  /**
   * The state machine to run; default `ShardStateMachine.machine(gid)`. For tests: a negative control
   * runs a deliberately broken one and checks that the suite notices.
   */
  readonly machine?: StateMachine<Group.GroupState, Group.ShardCommand, Group.ShardResult>
}

export interface ShardKvServerShape {
  readonly gid: Gid
  readonly replica: Rsm.ReplicatedStateMachine<Group.GroupState, Group.ShardCommand, Group.ShardResult>
  readonly status: Effect.Effect<ShardNodeStatus>
}

const SNAPSHOT_AT = 0.9

const bytesOf = (s: string) => Limits.utf8Bytes(s)

export const make = (options: Options): Effect.Effect<ShardKvServerShape, StorageError, Raft | Transport | Scope.Scope> =>
  Effect.gen(function*() {
    const transport = yield* Transport
    const { gid } = options
    const replica = yield* Rsm.make(options.machine ?? Group.machine(gid), {
      command: Group.ShardCommand,
      snapshotLogBytes: options.maxRaftState < 0 ? -1 : Math.floor(options.maxRaftState * SNAPSHOT_AT)
    })
    const answer = Answer.answer
    const limits = options.limits ?? Limits.defaults
    const pollMs = options.pollIntervalMs ?? 100
    const pageBytes = options.pageBytes ?? 1024 * 1024
    const provide = Effect.provideService(Transport, transport)
    const ctrl = yield* provide(CtrlClient.make({ servers: options.ctrlers, retryPause: "20 millis" }))

    /** Clerks of other groups, by their server list. */
    const clerks = new Map<string, Clerk.Clerk>()
    const clerkOf = (servers: ReadonlyArray<string>) =>
      Effect.suspend(() => {
        const key = servers.join(",")
        const hit = clerks.get(key)
        return hit !== undefined ? Effect.succeed(hit) : provide(Clerk.make({ servers })).pipe(Effect.tap((c) => Effect.sync(() => clerks.set(key, c))))
      })

    const local = Effect.map(replica.local, (l) => l.state)
    const isLeader = Effect.map(replica.raft.status, (s) => s.role === "Leader")
    /** Proposes an internal command (not a client's); failures are for the next round to retry. */
    const propose = (cmd: Group.ShardCommand) => replica.execute(cmd).pipe(Effect.timeout("2 seconds"), Effect.asVoid, Effect.ignore)
    /** Runs `work` every `ms` while this replica leads. */
    const leaderLoop = (ms: number, work: Effect.Effect<void>) =>
      Effect.forkScoped(Effect.forever(Effect.zipRight(
        Effect.sleep(`${ms} millis`),
        Effect.flatMap(isLeader, (leads) => (leads ? work : Effect.void))
      )))

    // Configs, strictly in order, once the group is stable.
    yield* leaderLoop(pollMs, Effect.gen(function*() {
      const state = yield* local
      if (!Group.stable(state)) return
      const next = yield* Effect.option(ctrl.query(state.config.num + 1, { timeout: "1 second" }))
      if (next._tag === "Some" && next.value.num === state.config.num + 1) yield* propose({ _tag: "Config", config: toWire(next.value) })
    }))

    // Shards gained: pulled page by page from their previous owners. The next page is fetched while
    // the current one goes through the log, so a large shard moves at the pace of the slower of the two.
    const pullOne = (num: number, shard: number) =>
      Effect.gen(function*() {
        const start = (yield* local).shards.get(shard)
        if (start?.status !== "pulling" || start.from === undefined) return
        const clerk = yield* clerkOf(start.from.servers)
        const fetch = (from: number) => Effect.fork(clerk.callRounds(new PullShard({ num, shard, from }, true), 1))
        let cursor = start.cursor
        let next = yield* fetch(cursor)
        for (;;) {
          const page = yield* Fiber.join(next)
          if (page.next !== null) next = yield* fetch(page.next)
          yield* propose({ _tag: "Install", num, shard, from: cursor, entries: page.entries, next: page.next, sessions: page.sessions })
          const state = yield* local
          const after = state.shards.get(shard)
          // Not applied (a leader change, a timeout): the next round starts again from the state's cursor.
          if (state.config.num !== num || after?.status !== "pulling" || after.cursor === cursor || page.next === null) return
          cursor = after.cursor
        }
      }).pipe(Effect.ignore)
    yield* leaderLoop(pollMs / 2, Effect.gen(function*() {
      const state = yield* local
      const pulling = [...state.shards].filter(([, sh]) => sh.status === "pulling").map(([s]) => s)
      yield* Effect.forEach(pulling, (s) => pullOne(state.config.num, s), { concurrency: "unbounded", discard: true })
    }))

    // Garbage collection: tell the previous owner of each received shard to delete it.
    yield* leaderLoop(pollMs / 2, Effect.gen(function*() {
      const state = yield* local
      const bySource = new Map<Gid, { servers: ReadonlyArray<string>; shards: Array<number> }>()
      for (const [s, sh] of state.shards) {
        if (sh.status !== "serving" || !sh.confirm || sh.from === undefined) continue
        const entry = bySource.get(sh.from.gid) ?? { servers: sh.from.servers, shards: [] }
        entry.shards.push(s)
        bySource.set(sh.from.gid, entry)
      }
      const num = state.config.num
      yield* Effect.forEach(bySource.values(), ({ servers, shards }) =>
        Effect.gen(function*() {
          const clerk = yield* clerkOf(servers)
          yield* clerk.callRounds(new DeleteShards({ num, shards }, true), 1)
          yield* propose({ _tag: "Confirmed", num, shards })
        }).pipe(Effect.ignore), { concurrency: "unbounded", discard: true })
    }))

    // Pages of frozen shards, cut once per (config, shard): their data does not change while sending.
    const frozen = new Map<string, ReadonlyArray<readonly [string, string]>>()
    const pageOf = (num: number, shard: number, sh: Group.Shard, from: number) => {
      const key = `${num}:${shard}`
      let entries = frozen.get(key)
      if (entries === undefined) {
        for (const k of frozen.keys()) if (Number(k.split(":")[0]) < num) frozen.delete(k)
        entries = [...sh.data]
        frozen.set(key, entries)
      }
      const page: Array<readonly [string, string]> = []
      let bytes = 0
      let i = from
      while (i < entries.length && (page.length === 0 || bytes < pageBytes)) {
        const e = entries[i++]!
        page.push(e)
        bytes += bytesOf(e[0]) + bytesOf(e[1])
      }
      const last = i >= entries.length
      if (last) frozen.delete(key)
      return new ShardPage({
        entries: page,
        next: last ? null : i,
        sessions: last ? Sessions.toRows(sh.sessions, (r) => r.value) : []
      }, true)
    }

    const notLeader = Effect.flatMap(replica.raft.status, (s) => Effect.fail(new NotLeader({ leaderHint: s.leader })))
    const valid = (key: string, value: string): Effect.Effect<void, InvalidRequest> => {
      const bad = Limits.check(key, value, limits)
      return bad === undefined ? Effect.void : Effect.fail(bad)
    }
    const wrongGroup = (state: Group.GroupState, key: string) =>
      new WrongGroup({ shard: Group.shardOf(state, key) ?? 0, config: state.config.num })

    const status = Effect.map(replicaStatus(replica, options.peers), ({ fields, state }) => {
      let keys = 0
      let dataBytes = 0
      const shards: Record<string, Group.ShardState> = {}
      for (const [n, sh] of state.shards) {
        shards[String(n)] = sh.status
        keys += sh.data.size
        for (const [k, v] of sh.data) dataBytes += bytesOf(k) + bytesOf(v)
      }
      return new ShardNodeStatus({ ...fields, gid, config: state.config.num, shards, keys, dataBytes })
    })

    yield* transport.serve<ShardKvRequest, never>(ShardKvProtocol, {
      ShardGet: (req) =>
        Effect.zipRight(
          valid(req.key, ""),
          answer(replica.read((state) => {
            const sh = Group.serving(state, req.key)
            return sh === undefined ? Either.left(wrongGroup(state, req.key)) : Either.right(sh.data.get(req.key) ?? "")
          })).pipe(Effect.flatMap((r) => r))
        ),
      ShardWrite: (req) =>
        Effect.gen(function*() {
          yield* valid(req.key, req.value)
          // A quick refusal for a key plainly not served here; the log entry checks again when applied.
          const state = yield* local
          if (Group.serving(state, req.key) === undefined) return yield* Effect.fail(wrongGroup(state, req.key))
          const r = yield* answer(replica.execute({ _tag: "Op", op: req.op, key: req.key, value: req.value, clientId: req.clientId, seq: req.seq }))
          if ("wrongGroup" in r) return yield* Effect.fail(new WrongGroup({ shard: r.wrongGroup, config: (yield* local).config.num }))
        }),
      PullShard: (req) =>
        Effect.gen(function*() {
          if (!(yield* isLeader)) return yield* notLeader
          const state = yield* local
          if (state.config.num < req.num) return yield* Effect.fail(new Retry({ reason: `not yet at config ${req.num}` }))
          const sh = state.shards.get(req.shard)
          if (state.config.num > req.num || sh?.status !== "sending") {
            return yield* Effect.fail(new Retry({ reason: `shard ${req.shard} of config ${req.num} is not here` }))
          }
          return pageOf(req.num, req.shard, sh, req.from)
        }),
      DeleteShards: (req) =>
        Effect.gen(function*() {
          const state = yield* local
          if (state.config.num > req.num) return
          if (state.config.num < req.num) return yield* Effect.fail(new Retry({ reason: `not yet at config ${req.num}` }))
          if (!(yield* isLeader)) return yield* notLeader
          yield* answer(replica.execute({ _tag: "Delete", num: req.num, shards: req.shards })).pipe(
            Effect.catchTag("InvalidRequest", (e) => Effect.die(e))
          )
        }),
      ShardStatus: () => status
    }, Answer.deadline<ShardKvRequest>(options.requestTimeoutMs ?? 1000, ["ShardGet", "ShardWrite", "DeleteShards"]))

    return { gid, replica, status }
  })
