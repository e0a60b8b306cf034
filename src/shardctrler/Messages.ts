/**
 * The shard controller's wire protocol. Join, Leave and Move carry the client's id and sequence
 * number (executed once per pair) and answer with the configuration they made; Query is a
 * linearizable read (ReadIndex); any replica answers Status.
 * @since 0.1.0
 */
import { Schema } from "effect"
import { NotLeader } from "../raft/Messages.js"
import { InvalidRequest, replicaStatusFields, Retry } from "../replica/Messages.js"
import * as Transport from "../rpc/Transport.js"
import { ConfigSchema } from "./Config.js"

/** What a request can fail with: retried by the clerk (NotLeader, Retry), or refused as it stands. */
export const CtrlFailure = Schema.Union(NotLeader, Retry, InvalidRequest)

const ClientId = Schema.NonNegativeInt
const Seq = Schema.NonNegativeInt
const Gid = Schema.NonNegativeInt

/** Adds groups (gid → servers), several at once; answers the new config. */
export class CtrlJoin extends Schema.TaggedRequest<CtrlJoin>()("CtrlJoin", {
  failure: CtrlFailure,
  success: ConfigSchema,
  payload: { groups: Schema.Array(Schema.Tuple(Gid, Schema.Array(Schema.String))), clientId: ClientId, seq: Seq }
}) {}

/** Removes groups; their shards go to the others. Answers the new config. */
export class CtrlLeave extends Schema.TaggedRequest<CtrlLeave>()("CtrlLeave", {
  failure: CtrlFailure,
  success: ConfigSchema,
  payload: { gids: Schema.Array(Gid), clientId: ClientId, seq: Seq }
}) {}

/** Assigns one shard to one group exactly. Answers the new config. */
export class CtrlMove extends Schema.TaggedRequest<CtrlMove>()("CtrlMove", {
  failure: CtrlFailure,
  success: ConfigSchema,
  payload: { shard: Schema.NonNegativeInt, gid: Gid, clientId: ClientId, seq: Seq }
}) {}

/** Config `num`; -1 (or a num beyond the latest) is the latest. Linearizable. */
export class CtrlQuery extends Schema.TaggedRequest<CtrlQuery>()("CtrlQuery", {
  failure: CtrlFailure,
  success: ConfigSchema,
  payload: { num: Schema.Int }
}) {}

export class CtrlNodeStatus extends Schema.Class<CtrlNodeStatus>("CtrlNodeStatus")({
  ...replicaStatusFields,
  /** The latest config num this replica has applied. */
  config: Schema.NonNegativeInt
}) {}

/** A replica's own view of itself. Any replica answers. */
export class CtrlStatus extends Schema.TaggedRequest<CtrlStatus>()("CtrlStatus", {
  failure: Schema.Never,
  success: CtrlNodeStatus,
  payload: {}
}) {}

export type CtrlRequest = CtrlJoin | CtrlLeave | CtrlMove | CtrlQuery | CtrlStatus

export const CtrlProtocol = Transport.protocol("ShardCtrler", CtrlJoin, CtrlLeave, CtrlMove, CtrlQuery, CtrlStatus)
