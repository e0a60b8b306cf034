/**
 * The key/value service's wire protocol.
 * @since 0.1.0
 */
import { Schema } from "effect"
import { NotLeader } from "../raft/Raft.js"
import * as Transport from "../rpc/Transport.js"

/** The server could not finish the request in time (no quorum, or an election); retry elsewhere. */
export class KvRetry extends Schema.TaggedError<KvRetry>()("KvRetry", {
  reason: Schema.String
}) {
  override get message() {
    return `retry: ${this.reason}`
  }
}

export const KvFailure = Schema.Union(NotLeader, KvRetry)

const ClientId = Schema.NonNegativeInt
const Seq = Schema.NonNegativeInt

export class KvGet extends Schema.TaggedRequest<KvGet>()("KvGet", {
  failure: KvFailure,
  success: Schema.String,
  payload: { key: Schema.String, clientId: ClientId, seq: Seq }
}) {}

export class KvPutAppend extends Schema.TaggedRequest<KvPutAppend>()("KvPutAppend", {
  failure: KvFailure,
  success: Schema.Void,
  payload: {
    op: Schema.Literal("put", "append"),
    key: Schema.String,
    value: Schema.String,
    clientId: ClientId,
    seq: Seq
  }
}) {}

export const KvProtocol = Transport.protocol("KV", KvGet, KvPutAppend)
