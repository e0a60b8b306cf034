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
import * as Codec from "../codec/Codec.js"
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
// 500-byte limit (one key, one client). The state is this process's own, so it is packed as is, and
// read back with a plain shape check: a Schema pass over every entry tripled the time the apply loop
// spent in a snapshot (the node's event loop is blocked meanwhile: heartbeats wait), for nothing.

export const empty = (): KvState => ({ data: new Map(), dups: new Map() })

export const snapshot = (state: KvState): Uint8Array =>
  Codec.pack([
    [...state.data],
    [...state.dups].map(([clientId, d]) => [clientId, d.seq, d.result.value])
  ])

const isCount = (x: unknown): x is number => typeof x === "number" && Number.isSafeInteger(x) && x >= 0

export const restore = (bytes: Uint8Array): KvState => {
  // A snapshot that does not decode was written by an incompatible version: a bug, not an input.
  const bad = (detail: string) => new Error(`cannot restore the key/value state: ${detail}`)
  const unpacked = Codec.unpack(bytes, "kv snapshot")
  if (unpacked._tag === "Left") throw bad(unpacked.left.message)
  const top = unpacked.right
  if (!Array.isArray(top) || top.length !== 2 || !Array.isArray(top[0]) || !Array.isArray(top[1])) {
    throw bad("expected [entries, duplicate table]")
  }
  const data = new Map<string, string>()
  for (const e of top[0] as Array<unknown>) {
    if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== "string" || typeof e[1] !== "string") {
      throw bad(`entry ${data.size}: expected [key, value] strings`)
    }
    data.set(e[0], e[1])
  }
  const dups = new Map<number, { seq: number; result: KvResult }>()
  for (const d of top[1] as Array<unknown>) {
    if (!Array.isArray(d) || d.length !== 3 || !isCount(d[0]) || !isCount(d[1]) || typeof d[2] !== "string") {
      throw bad(`duplicate table row ${dups.size}: expected [clientId, seq, value]`)
    }
    dups.set(d[0], { seq: d[1], result: { value: d[2] } })
  }
  return { data, dups }
}

/** The machine, for `ReplicatedStateMachine.make`. */
export const machine: StateMachine<KvState, KvCommand, KvResult> = {
  initial: empty,
  apply: (state, cmd) => [state, apply(state, cmd)],
  snapshot,
  restore
}
