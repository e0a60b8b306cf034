/**
 * The key/value state machine replicated by `KvServer`: Get, Put, Append and Delete over a map of
 * strings, with a duplicate table so that every write executes exactly once however often a client
 * retries it.
 *
 * Duplicate detection is `Sessions` (client id → last sequence number and its reply); the table is
 * part of the state, so it travels in snapshots and survives leader changes and restarts.
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Codec from "../codec/Codec.js"
import type { StateMachine } from "../raft/ReplicatedStateMachine.js"
import * as Sessions from "../replica/Sessions.js"

/** A command as stored in the Raft log. Gets enter the log only in `getMode: "log"`. */
export const KvCommand = Schema.Struct({
  op: Schema.Literal("get", "put", "append", "delete"),
  key: Schema.String,
  value: Schema.optional(Schema.String),
  clientId: Schema.NonNegativeInt,
  seq: Schema.NonNegativeInt
})
export type KvCommand = typeof KvCommand.Type

// The log's commands are encoded once per put (leader) and decoded once per put on every node.
const isCommandOp = (u: unknown): u is KvCommand["op"] => u === "put" || u === "append" || u === "get" || u === "delete"
Codec.fastPath(KvCommand, {
  encodePlain: (c) =>
    c.value === undefined
      ? { op: c.op, key: c.key, clientId: c.clientId, seq: c.seq }
      : { op: c.op, key: c.key, value: c.value, clientId: c.clientId, seq: c.seq },
  decodePlain: (u) => {
    if (!Codec.isRecord(u) || !isCommandOp(u.op) || typeof u.key !== "string" || !Codec.isNat(u.clientId) || !Codec.isNat(u.seq)) {
      return undefined
    }
    if (u.value === undefined) return "value" in u ? undefined : { op: u.op, key: u.key, clientId: u.clientId, seq: u.seq }
    return typeof u.value === "string" ? { op: u.op, key: u.key, value: u.value, clientId: u.clientId, seq: u.seq } : undefined
  }
})

/** The result of a command: the value for a get ("" when the key is missing). */
export interface KvResult {
  readonly value: string
}

export interface KvState {
  readonly data: Map<string, string>
  readonly dups: Sessions.Sessions<KvResult>
}

const OK: KvResult = { value: "" }

/** Applies one command to `data`, without duplicate detection; its result. */
export const applyTo = (data: Map<string, string>, cmd: KvCommand): KvResult => {
  switch (cmd.op) {
    case "get":
      return { value: data.get(cmd.key) ?? "" }
    case "put":
      data.set(cmd.key, cmd.value ?? "")
      return OK
    case "append":
      data.set(cmd.key, (data.get(cmd.key) ?? "") + (cmd.value ?? ""))
      return OK
    case "delete":
      data.delete(cmd.key)
      return OK
  }
}

/** Applies one command exactly once per (client id, seq) (in place: the state can be large). */
export const apply = (state: KvState, cmd: KvCommand): KvResult =>
  Sessions.execute(state.dups, cmd.clientId, cmd.seq, () => applyTo(state.data, cmd), OK)

/** A read served outside the log (ReadIndex): no duplicate bookkeeping needed. */
export const get = (state: KvState, key: string): string => state.data.get(key) ?? ""

// Snapshot: [[key, value]..., [clientId, seq, value]...] packed; compact enough for SnapshotSize3B's
// 500-byte limit (one key, one client). The state is this process's own, so it is packed as is, and
// read back with a plain shape check: a Schema pass over every entry tripled the time the apply loop
// spent in a snapshot (the node's event loop is blocked meanwhile: heartbeats wait), for nothing.

export const empty = (): KvState => ({ data: new Map(), dups: Sessions.empty() })

export const snapshot = (state: KvState): Uint8Array =>
  Codec.pack([[...state.data], Sessions.toRows(state.dups, (r) => r.value)])

const decodeResult = (v: unknown): KvResult | undefined => typeof v === "string" ? { value: v } : undefined

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
  const dups = Sessions.fromRows(top[1], decodeResult)
  if (dups._tag === "Left") throw bad(dups.left)
  return { data, dups: dups.right }
}

/** The machine, for `ReplicatedStateMachine.make`. */
export const machine: StateMachine<KvState, KvCommand, KvResult> = {
  initial: empty,
  apply: (state, cmd) => [state, apply(state, cmd)],
  snapshot,
  restore
}
