/**
 * The key/value service's wire protocol.
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Codec from "../codec/Codec.js"
import { NotLeader } from "../raft/Messages.js"
import { InvalidRequest, replicaStatusFields, Retry } from "../replica/Messages.js"
import * as Transport from "../rpc/Transport.js"

/** What a request can fail with: retried by the clerk (NotLeader, Retry), or refused as it stands. */
export const KvFailure = Schema.Union(NotLeader, Retry, InvalidRequest)

const ClientId = Schema.NonNegativeInt
const Seq = Schema.NonNegativeInt

/** A linearizable read of one key ("" when absent). */
export class KvGet extends Schema.TaggedRequest<KvGet>()("KvGet", {
  failure: KvFailure,
  success: Schema.String,
  payload: { key: Schema.String, clientId: ClientId, seq: Seq }
}) {}

/** A write: put (set), append (concatenate; an absent key counts as ""), delete. Executed exactly once. */
export class KvWrite extends Schema.TaggedRequest<KvWrite>()("KvWrite", {
  failure: KvFailure,
  success: Schema.Void,
  payload: {
    op: Schema.Literal("put", "append", "delete"),
    key: Schema.String,
    value: Schema.String,
    clientId: ClientId,
    seq: Seq
  }
}) {}

// The hot path's codecs (see Codec.FastPath): every client request is one of these two.
const isOp = (u: unknown): u is KvWrite["op"] => u === "put" || u === "append" || u === "delete"

Codec.fastPath(KvWrite, {
  encodePlain: (v) => ({ _tag: "KvWrite", op: v.op, key: v.key, value: v.value, clientId: v.clientId, seq: v.seq }),
  decodePlain: (u) =>
    Codec.isRecord(u) && u._tag === "KvWrite" && isOp(u.op) && typeof u.key === "string" && typeof u.value === "string" &&
      Codec.isNat(u.clientId) && Codec.isNat(u.seq)
      ? new KvWrite({ op: u.op, key: u.key, value: u.value, clientId: u.clientId, seq: u.seq }, true)
      : undefined
})

Codec.fastPath(KvGet, {
  encodePlain: (v) => ({ _tag: "KvGet", key: v.key, clientId: v.clientId, seq: v.seq }),
  decodePlain: (u) =>
    Codec.isRecord(u) && u._tag === "KvGet" && typeof u.key === "string" && Codec.isNat(u.clientId) && Codec.isNat(u.seq)
      ? new KvGet({ key: u.key, clientId: u.clientId, seq: u.seq }, true)
      : undefined
})

export class NodeStatus extends Schema.Class<NodeStatus>("NodeStatus")({
  ...replicaStatusFields,
  lastIndex: Schema.NonNegativeInt,
  snapshotIndex: Schema.NonNegativeInt
}) {}

/** A node's own view of itself and the cluster. Any node answers. */
export class KvStatus extends Schema.TaggedRequest<KvStatus>()("KvStatus", {
  failure: Schema.Never,
  success: NodeStatus,
  payload: {}
}) {}

export type KvRequest = KvGet | KvWrite | KvStatus

export const KvProtocol = Transport.protocol("KV", KvGet, KvWrite, KvStatus)

// -- membership (the admin verbs: `concord kv member …`, `/v1/members`) ------------------------------

export class MemberEntry extends Schema.Class<MemberEntry>("MemberEntry")({
  id: Schema.String,
  role: Schema.Literal("voter", "learner"),
  address: Schema.NullOr(Schema.String),
  /** Known on the leader: how far the member's log matches. */
  match: Schema.NullOr(Schema.NonNegativeInt)
}) {}

/** A node's view of the configuration (the leader's has each member's match index). */
export class MembersView extends Schema.Class<MembersView>("MembersView")({
  /** The node that answered. */
  id: Schema.String,
  leader: Schema.NullOr(Schema.String),
  members: Schema.Array(MemberEntry),
  /** The configuration entry's index (0: the bootstrap configuration) and whether it committed. */
  index: Schema.NonNegativeInt,
  committed: Schema.Boolean,
  /** The answering node refuses to vote until re-admitted (it joined without state). */
  rejoining: Schema.Boolean
}) {}

/** Why a membership change was refused (`Raft`'s typed errors, on the wire). */
export class MemberRefused extends Schema.TaggedError<MemberRefused>()("MemberRefused", {
  reason: Schema.Literal(
    "ChangeInProgress",
    "UnknownNode",
    "AlreadyMember",
    "NotCaughtUp",
    "LastVoter",
    "ChangeDropped",
    "Unavailable"
  ),
  detail: Schema.String
}) {
  override get message() {
    return this.detail
  }
}

export class KvMembers extends Schema.TaggedRequest<KvMembers>()("KvMembers", {
  failure: Schema.Never,
  success: MembersView,
  payload: {}
}) {}

/** A membership change (or a leadership transfer), run by the leader; succeeds once it took effect. */
export class KvMemberChange extends Schema.TaggedRequest<KvMemberChange>()("KvMemberChange", {
  failure: Schema.Union(NotLeader, MemberRefused),
  /** The configuration entry's index (0 for a transfer). */
  success: Schema.NonNegativeInt,
  payload: {
    op: Schema.Literal("add", "promote", "remove", "transfer"),
    id: Schema.String,
    /** `add` only: the new member's Raft/KV `host:port`. */
    address: Schema.String
  }
}) {}

export type KvAdminRequest = KvMembers | KvMemberChange

export const KvAdminProtocol = Transport.protocol("KvAdmin", KvMembers, KvMemberChange)
