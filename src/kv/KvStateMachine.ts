/**
 * The key/value state machine replicated by `KvServer`: Get, Put, Append and Delete over a map of
 * strings, with a duplicate table so that every write executes exactly once however often a client
 * retries it.
 *
 * Duplicate detection: each client numbers its operations 1, 2, 3, ... and has at most one in flight
 * (`KvClient` enforces it), so remembering the last sequence number of each client and that
 * operation's reply is enough: a command with that number is a retry (answer the remembered reply), a
 * lower one is an old retry whose client has moved on (ignore it). The table is part of the state, so
 * it travels in snapshots and survives leader changes and restarts.
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Codec from "../rpc/Codec.js"
import type { StateMachine } from "../raft/ReplicatedStateMachine.js"

/** A command as stored in the Raft log. Gets enter the log only in `getMode: "log"`. */
export const KvCommand = Schema.Struct({
  op: Schema.Literal("get", "put", "append", "delete"),
  key: Schema.String,
  value: Schema.optional(Schema.String),
  clientId: Schema.NonNegativeInt,
  seq: Schema.NonNegativeInt
})
export type KvCommand = typeof KvCommand.Type

/** The result of a command: the value for a get ("" when the key is missing). */
export interface KvResult {
  readonly value: string
}

export interface KvState {
  readonly data: Map<string, string>
  readonly dups: Map<number, { seq: number; result: KvResult }>
}

const OK: KvResult = { value: "" }

/** Applies one command (in place: the state can be large). */
export const apply = (state: KvState, cmd: KvCommand): KvResult => {
  const last = state.dups.get(cmd.clientId)
  if (last !== undefined && cmd.seq <= last.seq) return cmd.seq === last.seq ? last.result : OK
  let result = OK
  switch (cmd.op) {
    case "get":
      result = { value: state.data.get(cmd.key) ?? "" }
      break
    case "put":
      state.data.set(cmd.key, cmd.value ?? "")
      break
    case "append":
      state.data.set(cmd.key, (state.data.get(cmd.key) ?? "") + (cmd.value ?? ""))
      break
    case "delete":
      state.data.delete(cmd.key)
      break
  }
  state.dups.set(cmd.clientId, { seq: cmd.seq, result })
  return result
}

/** A read served outside the log (ReadIndex): no duplicate bookkeeping needed. */
export const get = (state: KvState, key: string): string => state.data.get(key) ?? ""

// Snapshot: [[key, value]..., [clientId, seq, value]...] packed; compact enough for SnapshotSize3B's
// 500-byte limit (one key, one client).
const SnapshotSchema = Schema.Tuple(
  Schema.Array(Schema.Tuple(Schema.String, Schema.String)),
  Schema.Array(Schema.Tuple(Schema.NonNegativeInt, Schema.NonNegativeInt, Schema.String))
)
const snapshotCodec = Codec.make(SnapshotSchema, "kv snapshot")

export const empty = (): KvState => ({ data: new Map(), dups: new Map() })

export const snapshot = (state: KvState): Uint8Array =>
  snapshotCodec.encode([
    [...state.data],
    [...state.dups].map(([clientId, d]) => [clientId, d.seq, d.result.value] as const)
  ])

export const restore = (bytes: Uint8Array): KvState => {
  const decoded = snapshotCodec.decode(bytes)
  // A snapshot that does not decode was written by an incompatible version: a bug, not an input.
  if (decoded._tag === "Left") throw new Error(`cannot restore the key/value state: ${decoded.left.message}`)
  const [data, dups] = decoded.right
  return {
    data: new Map(data),
    dups: new Map(dups.map(([clientId, seq, value]) => [clientId, { seq, result: { value } }]))
  }
}

/** The machine, for `ReplicatedStateMachine.make`. */
export const machine: StateMachine<KvState, KvCommand, KvResult> = {
  initial: empty,
  apply: (state, cmd) => [state, apply(state, cmd)],
  snapshot,
  restore
}
