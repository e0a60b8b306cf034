/**
 * Wire errors shared by every service replicated on Raft (the key/value service, the shard
 * controller, the sharded key/value service), so that one generic clerk (`Clerk`) can retry all of
 * them the same way. `NotLeader` (Raft's own) is the third such error.
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * The server could not finish the request in time (it lost its majority, or an election is under
 * way): it did not answer for the outcome. Retry, with the same client id and sequence number.
 */
export class Retry extends Schema.TaggedError<Retry>()("Retry", {
  reason: Schema.String
}) {
  override get message() {
    return `retry: ${this.reason}`
  }
}

/** Why a request is refused as it stands; the same codes as the HTTP APIs' errors. */
export const InvalidCode = Schema.Literal("bad_request", "key_too_large", "value_too_large")
export type InvalidCode = typeof InvalidCode.Type

/**
 * The request can never succeed as it is (an empty or oversized key, an oversized value, an
 * argument out of range): refused before it reaches the log, by the client before it is even sent.
 */
export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()("InvalidRequest", {
  code: InvalidCode,
  reason: Schema.String
}) {
  override get message() {
    return this.reason
  }
}

/** The fields every replica's status carries (the services add their own). */
export const replicaStatusFields = {
  id: Schema.String,
  role: Schema.Literal("Follower", "PreCandidate", "Candidate", "Leader"),
  term: Schema.NonNegativeInt,
  leader: Schema.NullOr(Schema.String),
  commit: Schema.NonNegativeInt,
  applied: Schema.NonNegativeInt,
  /** The Raft log's encoded size (hard state + retained entries), which snapshots bound. */
  logBytes: Schema.NonNegativeInt,
  snapshotBytes: Schema.NonNegativeInt,
  /** What the node's storage really takes on disk (WAL segments not yet compacted included). */
  diskBytes: Schema.NonNegativeInt,
  /** The members and their addresses, when the node knows them (a real deployment does). */
  peers: Schema.Record({ key: Schema.String, value: Schema.String })
}
