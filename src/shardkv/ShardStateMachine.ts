/**
 * The replicated state of one replica group of the sharded key/value service: the config it has
 * adopted, and the shards it holds, each with its own data and its own duplicate table (`Sessions`),
 * so that a shard moves to another group together with the exactly-once state of its keys.
 *
 * Every step of a reconfiguration is a log entry, so every replica takes it at the same log point:
 *
 * - `Config` adopts config num+1, only once the group is stable (no shard pulling, sending, or
 *   waiting for its old owner's confirmation): configs are taken strictly in order. Per shard:
 *   kept (the group served it and still does); `serving` at once and empty (it comes from gid 0, the
 *   first configuration); `pulling` (another group served it: its data must come from there); or
 *   `sending` (given away: kept, frozen, until the receiver confirms it has it). A shard moved to
 *   gid 0 (every group left) is dropped: there is nowhere for its data to go.
 * - `Install` adds one page of a pulling shard's data (pages go in order: each names where it starts,
 *   and a page that does not start where the last ended is a duplicate and ignored); with the last page
 *   the shard's sessions arrive and it is `serving`, awaiting `confirm` of the old owner's deletion.
 *   Challenge 2: it serves from then on, whatever the group's other shards are doing.
 * - `Delete` (in the old owner) drops a `sending` shard, once the receiver said it has installed it:
 *   that is the garbage collection of challenge 1. It is safe because the receiver has the shard in
 *   its log, and the old owner never serves a sending shard again.
 * - `Confirmed` (in the receiver) ends the wait for the old owner's deletion.
 * - `Op` is a client's write; it executes only if the key's shard is `serving` here (at apply time,
 *   deterministically), exactly once per (client id, seq) in that shard's sessions, else `WrongGroup`
 *   (which records nothing: the client retries the same operation elsewhere).
 *
 * At most one group serves a shard at any moment: the receiver serves only data that the old owner
 * handed over after it adopted the config that took the shard away, from when it stopped serving it.
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Codec from "../codec/Codec.js"
import * as Kv from "../kv/KvStateMachine.js"
import type { StateMachine } from "../raft/ReplicatedStateMachine.js"
import * as Sessions from "../replica/Sessions.js"
import { type Config, ConfigSchema, fromWire, type Gid, shardOfKey, toWire } from "../shardctrler/Config.js"

export type ShardState = "serving" | "pulling" | "sending"

export interface Shard {
  status: ShardState
  readonly data: Map<string, string>
  sessions: Sessions.Sessions<Kv.KvResult>
  /** Pulling: the group to pull from (and, once served, to confirm with), from the previous config. */
  from: { readonly gid: Gid; readonly servers: ReadonlyArray<string> } | undefined
  /** Pulling: where the next page starts. */
  cursor: number
  /** Serving: received from `from`, whose deletion has not been confirmed yet. */
  confirm: boolean
}

export interface GroupState {
  /** The adopted config (num 0: none yet). */
  config: Config
  readonly shards: Map<number, Shard>
}

const Entries = Schema.Array(Schema.Tuple(Schema.String, Schema.String))
const SessionRows = Schema.Array(Schema.Tuple(Schema.NonNegativeInt, Schema.NonNegativeInt, Schema.String))

/** A command as stored in the group's Raft log. */
export const ShardCommand = Schema.Union(
  Schema.TaggedStruct("Op", {
    op: Schema.Literal("put", "append", "delete"),
    key: Schema.String,
    value: Schema.String,
    clientId: Schema.NonNegativeInt,
    seq: Schema.NonNegativeInt
  }),
  Schema.TaggedStruct("Config", { config: ConfigSchema }),
  Schema.TaggedStruct("Install", {
    num: Schema.NonNegativeInt,
    shard: Schema.NonNegativeInt,
    from: Schema.NonNegativeInt,
    entries: Entries,
    next: Schema.NullOr(Schema.NonNegativeInt),
    sessions: SessionRows
  }),
  Schema.TaggedStruct("Delete", { num: Schema.NonNegativeInt, shards: Schema.Array(Schema.NonNegativeInt) }),
  Schema.TaggedStruct("Confirmed", { num: Schema.NonNegativeInt, shards: Schema.Array(Schema.NonNegativeInt) })
)
export type ShardCommand = typeof ShardCommand.Type

/** What a command did: a write's result, or that the key's shard is not served here. */
export type ShardResult = Kv.KvResult | { readonly wrongGroup: number }

const OK: Kv.KvResult = { value: "" }
const none: Config = { num: 0, keyToShard: "hash", shards: [], groups: new Map() }

export const empty = (): GroupState => ({ config: none, shards: new Map() })

/** The shard of `key` under the adopted config (undefined before the first). */
export const shardOf = (state: GroupState, key: string): number | undefined =>
  state.config.num === 0 ? undefined : shardOfKey(state.config.keyToShard, state.config.shards.length, key)

/** Whether the group may adopt the next config: nothing pulling, sending or awaiting confirmation. */
export const stable = (state: GroupState): boolean => {
  for (const s of state.shards.values()) if (s.status !== "serving" || s.confirm) return false
  return true
}

/** The shard serving `key` here, if this group serves it now. */
export const serving = (state: GroupState, key: string): Shard | undefined => {
  const s = shardOf(state, key)
  const shard = s === undefined ? undefined : state.shards.get(s)
  return shard?.status === "serving" ? shard : undefined
}

const adopt = (state: GroupState, gid: Gid, next: Config) => {
  const cur = state.config
  for (let s = 0; s < next.shards.length; s++) {
    const was = cur.shards[s] ?? 0
    const now = next.shards[s]!
    if (now === gid && was !== gid) {
      state.shards.set(s, {
        status: was === 0 ? "serving" : "pulling",
        data: new Map(),
        sessions: Sessions.empty(),
        from: was === 0 ? undefined : { gid: was, servers: cur.groups.get(was) ?? [] },
        cursor: 0,
        confirm: false
      })
    } else if (was === gid && now !== gid) {
      if (now === 0) state.shards.delete(s)
      else state.shards.get(s)!.status = "sending"
    }
  }
  state.config = next
}

const decodeReply = (u: unknown): Kv.KvResult | undefined => (typeof u === "string" ? { value: u } : undefined)

/** Applies one command, in place. */
export const apply = (gid: Gid) => (state: GroupState, cmd: ShardCommand): ShardResult => {
  switch (cmd._tag) {
    case "Op": {
      const s = shardOf(state, cmd.key)
      const shard = s === undefined ? undefined : state.shards.get(s)
      if (shard === undefined || shard.status !== "serving") return { wrongGroup: s ?? 0 }
      return Sessions.execute(shard.sessions, cmd.clientId, cmd.seq, () => Kv.applyTo(shard.data, cmd), OK)
    }
    case "Config": {
      const next = fromWire(cmd.config)
      if (next.num === state.config.num + 1 && stable(state)) adopt(state, gid, next)
      return OK
    }
    case "Install": {
      const shard = state.shards.get(cmd.shard)
      if (state.config.num !== cmd.num || shard?.status !== "pulling" || shard.cursor !== cmd.from) return OK
      for (const [k, v] of cmd.entries) shard.data.set(k, v)
      if (cmd.next !== null) {
        shard.cursor = cmd.next
        return OK
      }
      const rows = Sessions.fromRows(cmd.sessions, decodeReply)
      // The rows were written by Sessions.toRows at the old owner; a bad one is a bug there.
      if (rows._tag === "Left") throw new Error(`Install of shard ${cmd.shard}: ${rows.left}`)
      shard.sessions = rows.right
      shard.status = "serving"
      shard.confirm = true
      return OK
    }
    case "Delete": {
      if (state.config.num !== cmd.num) return OK
      for (const s of cmd.shards) if (state.shards.get(s)?.status === "sending") state.shards.delete(s)
      return OK
    }
    case "Confirmed": {
      if (state.config.num !== cmd.num) return OK
      for (const s of cmd.shards) {
        const shard = state.shards.get(s)
        if (shard !== undefined) shard.confirm = false
      }
      return OK
    }
  }
}

// -- snapshots -----------------------------------------------------------------------------------

const ShardSnapshot = Schema.Tuple(
  Schema.NonNegativeInt, // shard
  Schema.Literal("serving", "pulling", "sending"),
  Entries,
  SessionRows,
  Schema.NullOr(Schema.Tuple(Schema.NonNegativeInt, Schema.Array(Schema.String))), // from
  Schema.NonNegativeInt, // cursor
  Schema.Boolean // confirm
)
const GroupSnapshot = Schema.Tuple(ConfigSchema, Schema.Array(ShardSnapshot))
const snapshotCodec = Codec.make(GroupSnapshot, "shard group snapshot")

export const snapshot = (state: GroupState): Uint8Array =>
  snapshotCodec.encode([
    toWire(state.config),
    [...state.shards].map(([s, sh]) => [
      s,
      sh.status,
      [...sh.data],
      Sessions.toRows(sh.sessions, (r) => r.value),
      sh.from === undefined ? null : [sh.from.gid, sh.from.servers],
      sh.cursor,
      sh.confirm
    ] as const)
  ])

export const restore = (bytes: Uint8Array): GroupState => {
  const decoded = snapshotCodec.decode(bytes)
  // A snapshot that does not decode was written by an incompatible version: a bug, not an input.
  if (decoded._tag === "Left") throw new Error(`cannot restore the shard group state: ${decoded.left.message}`)
  const [config, shards] = decoded.right
  const state: GroupState = { config: fromWire(config), shards: new Map() }
  for (const [s, status, entries, rows, from, cursor, confirm] of shards) {
    const sessions = Sessions.fromRows(rows, decodeReply)
    if (sessions._tag === "Left") throw new Error(`cannot restore shard ${s}: ${sessions.left}`)
    state.shards.set(s, {
      status,
      data: new Map(entries),
      sessions: sessions.right,
      from: from === null ? undefined : { gid: from[0], servers: from[1] },
      cursor,
      confirm
    })
  }
  return state
}

/** The machine of group `gid`, for `ReplicatedStateMachine.make`. */
export const machine = (gid: Gid): StateMachine<GroupState, ShardCommand, ShardResult> => {
  const step = apply(gid)
  return { initial: empty, apply: (state, cmd) => [state, step(state, cmd)], snapshot, restore }
}
