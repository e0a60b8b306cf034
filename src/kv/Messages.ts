/**
 * The key/value service's wire protocol.
 * @since 0.1.0
 */
import { Schema } from "effect"
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
