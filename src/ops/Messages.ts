/**
 * The operator protocol every replica serves on its Raft/KV port, whatever its service: a consistent
 * snapshot of the state machine (backups) and the node's status in one shape (the status page).
 * @since 0.1.0
 */
import { Schema } from "effect"
import { NotLeader } from "../raft/Messages.js"
import { replicaStatusFields, Retry } from "../replica/Messages.js"
import * as Transport from "../rpc/Transport.js"

export const Kind = Schema.Literal("kv", "ctrl", "shardkv")

/** A state-machine snapshot at `index`, taken by the leader after a linearizable read barrier. */
export class Captured extends Schema.Class<Captured>("Captured")({
  kind: Kind,
  index: Schema.NonNegativeInt,
  /** The leader's term when it took the snapshot. */
  term: Schema.NonNegativeInt,
  data: Schema.Uint8ArrayFromSelf
}) {}

/**
 * A consistent snapshot of the service's state: the leader confirms it still leads (ReadIndex), waits
 * until it has applied everything committed before the request, and encodes its state in one step.
 */
export class OpsSnapshot extends Schema.TaggedRequest<OpsSnapshot>()("OpsSnapshot", {
  failure: Schema.Union(NotLeader, Retry),
  success: Captured,
  payload: {}
}) {}

export class MemberStatus extends Schema.Class<MemberStatus>("MemberStatus")({
  ...replicaStatusFields,
  kind: Schema.NullOr(Kind),
  lastIndex: Schema.NonNegativeInt,
  snapshotIndex: Schema.NonNegativeInt
}) {}

/** This node's status (any node answers). */
export class OpsStatus extends Schema.TaggedRequest<OpsStatus>()("OpsStatus", {
  failure: Schema.Never,
  success: MemberStatus,
  payload: {}
}) {}

export type OpsRequest = OpsSnapshot | OpsStatus

export const OpsProtocol = Transport.protocol("Ops", OpsSnapshot, OpsStatus)
