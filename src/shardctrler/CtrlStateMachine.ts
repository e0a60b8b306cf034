/**
 * The shard controller's replicated state: every configuration made so far, and the duplicate table
 * (`Sessions`) that makes Join, Leave and Move execute once however often they are retried. Runs on
 * `ReplicatedStateMachine`; the rebalancing itself is `Rebalance`.
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Codec from "../codec/Codec.js"
import type { StateMachine } from "../raft/ReplicatedStateMachine.js"
import * as Sessions from "../replica/Sessions.js"
import { type Config, type ConfigWire, fromWire, initial, type KeyToShard, toWire } from "./Config.js"
import * as Rebalance from "./Rebalance.js"

/** A command as stored in the Raft log. */
export const CtrlCommand = Schema.Union(
  Schema.Struct({
    op: Schema.Literal("join"),
    groups: Schema.Array(Schema.Tuple(Schema.NonNegativeInt, Schema.Array(Schema.String))),
    clientId: Schema.NonNegativeInt,
    seq: Schema.NonNegativeInt
  }),
  Schema.Struct({
    op: Schema.Literal("leave"),
    gids: Schema.Array(Schema.NonNegativeInt),
    clientId: Schema.NonNegativeInt,
    seq: Schema.NonNegativeInt
  }),
  Schema.Struct({
    op: Schema.Literal("move"),
    shard: Schema.NonNegativeInt,
    gid: Schema.NonNegativeInt,
    clientId: Schema.NonNegativeInt,
    seq: Schema.NonNegativeInt
  })
)
export type CtrlCommand = typeof CtrlCommand.Type

/** What a command did: the number of the config it made, or why it was refused. Small: it is kept per client. */
export type CtrlResult = { readonly num: number } | { readonly refused: string }

export interface CtrlState {
  /** configs[i].num === i. */
  readonly configs: Array<Config>
  readonly sessions: Sessions.Sessions<CtrlResult>
}

/** The latest config, or config `num` (-1 or beyond the latest: the latest). */
export const query = (state: CtrlState, num: number): Config =>
  num < 0 || num >= state.configs.length ? state.configs[state.configs.length - 1]! : state.configs[num]!

const run = (state: CtrlState, cmd: CtrlCommand): CtrlResult => {
  const latest = state.configs[state.configs.length - 1]!
  const outcome = cmd.op === "join"
    ? Rebalance.join(latest, new Map(cmd.groups))
    : cmd.op === "leave"
    ? Rebalance.leave(latest, cmd.gids)
    : Rebalance.move(latest, cmd.shard, cmd.gid)
  if (Rebalance.isRefused(outcome)) return { refused: outcome.reason }
  state.configs.push(outcome)
  return { num: outcome.num }
}

/** Applies one command exactly once per (client id, seq), in place. */
export const apply = (state: CtrlState, cmd: CtrlCommand): CtrlResult =>
  Sessions.execute(state.sessions, cmd.clientId, cmd.seq, () => run(state, cmd), { refused: "an old retry" })

// Snapshot: [[config...], [[clientId, seq, num | reason]...]] packed.
const ConfigsSchema = Schema.Array(Schema.Struct({
  num: Schema.NonNegativeInt,
  keyToShard: Schema.Literal("hash", "first-byte"),
  shards: Schema.Array(Schema.NonNegativeInt),
  groups: Schema.Array(Schema.Tuple(Schema.NonNegativeInt, Schema.Array(Schema.String)))
}))
const configsCodec = Codec.make(ConfigsSchema, "controller snapshot")

export const snapshot = (state: CtrlState): Uint8Array =>
  Codec.pack([
    configsCodec.encodePlain(state.configs.map(toWire)),
    Sessions.toRows(state.sessions, (r) => ("num" in r ? r.num : r.refused))
  ])

const decodeResult = (u: unknown): CtrlResult | undefined =>
  typeof u === "number" ? { num: u } : typeof u === "string" ? { refused: u } : undefined

export const restore = (bytes: Uint8Array): CtrlState => {
  // A snapshot that does not decode was written by an incompatible version: a bug, not an input.
  const bad = (detail: string) => new Error(`cannot restore the controller state: ${detail}`)
  const top = Codec.unpack(bytes, "controller snapshot")
  if (top._tag === "Left") throw bad(top.left.message)
  if (!Array.isArray(top.right) || top.right.length !== 2) throw bad("expected [configs, duplicate table]")
  const configs = configsCodec.decodePlain(top.right[0])
  if (configs._tag === "Left") throw bad(configs.left.message)
  const sessions = Sessions.fromRows(top.right[1], decodeResult)
  if (sessions._tag === "Left") throw bad(sessions.left)
  return { configs: configs.right.map((w: ConfigWire) => fromWire(w)), sessions: sessions.right }
}

/** The machine for a controller cluster with `nShards` shards and `keyToShard`. */
export const machine = (nShards: number, keyToShard: KeyToShard): StateMachine<CtrlState, CtrlCommand, CtrlResult> => ({
  initial: () => ({ configs: [initial(nShards, keyToShard)], sessions: Sessions.empty() }),
  apply: (state, cmd) => [state, apply(state, cmd)],
  snapshot,
  restore
})
