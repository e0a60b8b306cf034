/**
 * Raft's wire protocol: one `Schema.TaggedRequest` per RPC. Terms and indices are non-negative
 * integers; entries travel as `[index, term, kind, data]` tuples.
 * @since 0.1.0
 */
import { ParseResult, Schema } from "effect"
import * as Codec from "../codec/Codec.js"
import type { EntryKind, LogEntry } from "./core/types.js"

/**
 * A log entry on the wire and on disk: the tuple `[index, term, kind, data]` (a struct would repeat its
 * four key names in every entry of every AppendEntries).
 */
export const LogEntrySchema: Schema.Schema<LogEntry, readonly [number, number, EntryKind, Uint8Array]> = Schema.transform(
  Schema.Tuple(Schema.NonNegativeInt, Schema.NonNegativeInt, Schema.Literal(0, 1, 2), Schema.Uint8ArrayFromSelf),
  Schema.Struct({
    index: Schema.NonNegativeInt,
    term: Schema.NonNegativeInt,
    kind: Schema.Literal(0, 1, 2),
    data: Schema.Uint8ArrayFromSelf
  }),
  {
    strict: true,
    decode: ([index, term, kind, data]) => ({ index, term, kind, data }),
    encode: ({ index, term, kind, data }) => [index, term, kind, data] as const
  }
)

type EncodedEntry = readonly [number, number, EntryKind, Uint8Array]

const isNat = Codec.isNat
const isRecord = Codec.isRecord

/** Entries from their wire form, each checked; undefined if one is not `[index, term, kind, bytes]`. */
const decodeEntries = (raw: ReadonlyArray<unknown>): Array<LogEntry> | undefined => {
  const out: Array<LogEntry> = new Array(raw.length)
  for (let i = 0; i < raw.length; i++) {
    const t = raw[i] as unknown
    if (
      !Array.isArray(t) || t.length !== 4 || !isNat(t[0]) || !isNat(t[1]) || (t[2] !== 0 && t[2] !== 1 && t[2] !== 2) ||
      !(t[3] instanceof Uint8Array)
    ) {
      return undefined
    }
    out[i] = { index: t[0], term: t[1], kind: t[2], data: t[3] }
  }
  return out
}

const encodeEntries = (entries: ReadonlyArray<LogEntry>): Array<EncodedEntry> =>
  entries.map((e): EncodedEntry => [e.index, e.term, e.kind, e.data])

/**
 * A whole array of entries, as in AppendEntries: the same tuples as `LogEntrySchema`, validated in one
 * loop. Composing `Schema.Array(LogEntrySchema)` runs about ten parser steps per entry (tuple,
 * refinements, transform, struct), which measured ~2 µs per entry each way: ten times the msgpack
 * cost, and the largest single cost of a simulated cluster.
 */
export const LogEntriesSchema: Schema.Schema<ReadonlyArray<LogEntry>, ReadonlyArray<EncodedEntry>> = Schema
  .transformOrFail(
    Schema.declare((u): u is ReadonlyArray<EncodedEntry> => Array.isArray(u), { identifier: "EncodedLogEntries" }),
    Schema.declare((u): u is ReadonlyArray<LogEntry> => Array.isArray(u), { identifier: "LogEntries" }),
    {
      strict: true,
      decode: (raw, _, ast) => {
        const out = decodeEntries(raw)
        if (out !== undefined) return ParseResult.succeed(out)
        const i = raw.findIndex((t) => decodeEntries([t]) === undefined)
        return ParseResult.fail(new ParseResult.Type(ast, raw, `entry ${i} is not [index, term, kind 0|1|2, bytes]`))
      },
      encode: (entries) => ParseResult.succeed(encodeEntries(entries))
    }
  )

export const HardStateSchema = Schema.Struct({
  term: Schema.NonNegativeInt,
  vote: Schema.NullOr(Schema.String),
  commit: Schema.NonNegativeInt,
  rejoin: Schema.optionalWith(Schema.NonNegativeInt, { exact: true })
})

/** A cluster configuration (`core/types.ts` `Membership`). */
export const MembershipSchema = Schema.Struct({
  voters: Schema.Array(Schema.String),
  learners: Schema.Array(Schema.String),
  addresses: Schema.Record({ key: Schema.String, value: Schema.String })
})

export const SnapshotSchema = Schema.Struct({
  index: Schema.NonNegativeInt,
  term: Schema.NonNegativeInt,
  data: Schema.Uint8ArrayFromSelf,
  membership: Schema.optionalWith(MembershipSchema, { exact: true })
})

/** This node is not the leader; `leaderHint` is the leader it knows of, if any. */
export class NotLeader extends Schema.TaggedError<NotLeader>()("NotLeader", {
  leaderHint: Schema.NullOr(Schema.String)
}) {
  override get message() {
    return this.leaderHint === null ? "not the leader (no leader known)" : `not the leader (try ${this.leaderHint})`
  }
}

const Term = Schema.NonNegativeInt
const Index = Schema.NonNegativeInt

export class RequestVoteReply extends Schema.Class<RequestVoteReply>("RequestVoteReply")({
  term: Term,
  granted: Schema.Boolean
}) {}

/** A (pre-)vote request. A pre-vote carries the term the candidate would campaign in. */
export class RequestVote extends Schema.TaggedRequest<RequestVote>()("RequestVote", {
  failure: Schema.Never,
  success: RequestVoteReply,
  payload: {
    term: Term,
    candidate: Schema.String,
    lastIndex: Index,
    lastTerm: Term,
    preVote: Schema.Boolean,
    /** Sent by a leadership-transfer target: voters ignore their leader lease. */
    transfer: Schema.Boolean
  }
}) {}

export class AppendEntriesReply extends Schema.Class<AppendEntriesReply>("AppendEntriesReply")({
  term: Term,
  success: Schema.Boolean,
  /** On success: the follower's log matches the leader's through this index. */
  match: Index,
  /** On rejection: where the leader should retry (the first index of the conflicting term, or lastIndex + 1). */
  conflictIndex: Index,
  /** On rejection: the term of the follower's entry at prevIndex (0 if it has none). */
  conflictTerm: Term
}) {}

export class AppendEntries extends Schema.TaggedRequest<AppendEntries>()("AppendEntries", {
  failure: Schema.Never,
  success: AppendEntriesReply,
  payload: {
    term: Term,
    leader: Schema.String,
    prevIndex: Index,
    prevTerm: Term,
    entries: LogEntriesSchema,
    commit: Index
  }
}) {}

export class HeartbeatReply extends Schema.Class<HeartbeatReply>("HeartbeatReply")({
  term: Term,
  /** The read round acknowledged (echo of the request's). */
  readRound: Schema.NonNegativeInt
}) {}

/**
 * Leadership and commit, without a log check: `commit` is at most what the leader knows the follower
 * has (its match index), so the follower can adopt it as is. `readRound` numbers ReadIndex rounds.
 */
export class Heartbeat extends Schema.TaggedRequest<Heartbeat>()("Heartbeat", {
  failure: Schema.Never,
  success: HeartbeatReply,
  payload: {
    term: Term,
    leader: Schema.String,
    commit: Index,
    readRound: Schema.NonNegativeInt
  }
}) {}

export class InstallSnapshotReply extends Schema.Class<InstallSnapshotReply>("InstallSnapshotReply")({
  term: Term,
  /** The follower's log now matches through this index. */
  match: Index
}) {}

export class InstallSnapshot extends Schema.TaggedRequest<InstallSnapshot>()("InstallSnapshot", {
  failure: Schema.Never,
  success: InstallSnapshotReply,
  payload: {
    term: Term,
    leader: Schema.String,
    snapshot: SnapshotSchema
  }
}) {}

/** Leadership transfer: the leader tells an up-to-date follower to campaign now. */
export class TimeoutNow extends Schema.TaggedRequest<TimeoutNow>()("TimeoutNow", {
  failure: Schema.Never,
  success: Schema.Void,
  payload: {
    term: Term,
    leader: Schema.String
  }
}) {}

export type RaftRequest = RequestVote | AppendEntries | Heartbeat | InstallSnapshot | TimeoutNow
export type RaftResponse = RequestVoteReply | AppendEntriesReply | HeartbeatReply | InstallSnapshotReply | void

// -- the hot path's codecs (see Codec.FastPath): every put sends AppendEntries and its reply, every
// heartbeat round a Heartbeat and its reply. Each accepts exactly what its class's schema accepts
// in the common shape (test/raft/fastCodecs.test.ts compares them with Schema).

Codec.fastPath(AppendEntries, {
  encodePlain: (v) => ({
    _tag: "AppendEntries",
    term: v.term,
    leader: v.leader,
    prevIndex: v.prevIndex,
    prevTerm: v.prevTerm,
    entries: encodeEntries(v.entries),
    commit: v.commit
  }),
  decodePlain: (u) => {
    if (!isRecord(u) || u._tag !== "AppendEntries" || !isNat(u.term) || typeof u.leader !== "string" || !isNat(u.prevIndex)) return undefined
    if (!isNat(u.prevTerm) || !isNat(u.commit) || !Array.isArray(u.entries)) return undefined
    const entries = decodeEntries(u.entries)
    if (entries === undefined) return undefined
    return new AppendEntries({ term: u.term, leader: u.leader, prevIndex: u.prevIndex, prevTerm: u.prevTerm, entries, commit: u.commit }, true)
  }
})

Codec.fastPath(AppendEntriesReply, {
  encodePlain: (v) => ({ term: v.term, success: v.success, match: v.match, conflictIndex: v.conflictIndex, conflictTerm: v.conflictTerm }),
  decodePlain: (u) =>
    isRecord(u) && isNat(u.term) && typeof u.success === "boolean" && isNat(u.match) && isNat(u.conflictIndex) && isNat(u.conflictTerm)
      ? new AppendEntriesReply({ term: u.term, success: u.success, match: u.match, conflictIndex: u.conflictIndex, conflictTerm: u.conflictTerm }, true)
      : undefined
})

Codec.fastPath(Heartbeat, {
  encodePlain: (v) => ({ _tag: "Heartbeat", term: v.term, leader: v.leader, commit: v.commit, readRound: v.readRound }),
  decodePlain: (u) =>
    isRecord(u) && u._tag === "Heartbeat" && isNat(u.term) && typeof u.leader === "string" && isNat(u.commit) && isNat(u.readRound)
      ? new Heartbeat({ term: u.term, leader: u.leader, commit: u.commit, readRound: u.readRound }, true)
      : undefined
})

Codec.fastPath(HeartbeatReply, {
  encodePlain: (v) => ({ term: v.term, readRound: v.readRound }),
  decodePlain: (u) =>
    isRecord(u) && isNat(u.term) && isNat(u.readRound) ? new HeartbeatReply({ term: u.term, readRound: u.readRound }, true) : undefined
})
