/**
 * Raft's wire protocol: one `Schema.TaggedRequest` per RPC. Terms and indices are non-negative
 * integers; entries travel as `[index, term, kind, data]` tuples.
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Transport from "../rpc/Transport.js"
import { LogEntriesSchema, SnapshotSchema } from "../storage/LogStorage.js"

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

/** The protocol a Raft node serves. */
export const RaftProtocol = Transport.protocol("Raft", RequestVote, AppendEntries, Heartbeat, InstallSnapshot, TimeoutNow)
