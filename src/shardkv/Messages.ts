/**
 * The sharded key/value service's wire protocol: the clients' Get and writes (with the key/value
 * service's semantics and `WrongGroup` for a key whose shard the group does not serve), the
 * migration RPCs between groups (`PullShard`, `DeleteShards`), and a replica's status.
 * @since 0.1.0
 */
import { Schema } from "effect"
import { NotLeader } from "../raft/Messages.js"
import { InvalidRequest, replicaStatusFields, Retry } from "../replica/Messages.js"
import * as Transport from "../rpc/Transport.js"

/** This group does not serve the key's shard (now): ask the controller for the latest config. */
export class WrongGroup extends Schema.TaggedError<WrongGroup>()("WrongGroup", {
  shard: Schema.NonNegativeInt,
  /** The config num this replica has adopted. */
  config: Schema.NonNegativeInt
}) {
  override get message() {
    return `this group does not serve shard ${this.shard} in config ${this.config}`
  }
}

export const ShardKvFailure = Schema.Union(NotLeader, Retry, InvalidRequest, WrongGroup)

const ClientId = Schema.NonNegativeInt
const Seq = Schema.NonNegativeInt

/** A linearizable read of one key ("" when absent). */
export class ShardGet extends Schema.TaggedRequest<ShardGet>()("ShardGet", {
  failure: ShardKvFailure,
  success: Schema.String,
  payload: { key: Schema.String, clientId: ClientId, seq: Seq }
}) {}

/** A write, executed exactly once per (clientId, seq), across migrations too. */
export class ShardWrite extends Schema.TaggedRequest<ShardWrite>()("ShardWrite", {
  failure: ShardKvFailure,
  success: Schema.Void,
  payload: {
    op: Schema.Literal("put", "append", "delete"),
    key: Schema.String,
    value: Schema.String,
    clientId: ClientId,
    seq: Seq
  }
}) {}

/** One page of a shard's data, and (with the last page) its part of the duplicate table. */
export class ShardPage extends Schema.Class<ShardPage>("ShardPage")({
  entries: Schema.Array(Schema.Tuple(Schema.String, Schema.String)),
  /** Where the next page starts; null: this was the last. */
  next: Schema.NullOr(Schema.NonNegativeInt),
  /** With the last page: `[clientId, seq, value]` rows. */
  sessions: Schema.Array(Schema.Tuple(Schema.NonNegativeInt, Schema.NonNegativeInt, Schema.String))
}) {}

/**
 * From the group that gave `shard` away in config `num`: the page of its data starting at `from`.
 * Answered (by that group's leader) once it has adopted config `num`, when the shard's data is final.
 */
export class PullShard extends Schema.TaggedRequest<PullShard>()("PullShard", {
  failure: Schema.Union(NotLeader, Retry),
  success: ShardPage,
  payload: { num: Schema.NonNegativeInt, shard: Schema.NonNegativeInt, from: Schema.NonNegativeInt }
}) {}

/**
 * To the group that gave `shards` away in config `num`: they are installed here, durably; delete
 * them. Answered once deleted (or already gone).
 */
export class DeleteShards extends Schema.TaggedRequest<DeleteShards>()("DeleteShards", {
  failure: Schema.Union(NotLeader, Retry),
  success: Schema.Void,
  payload: { num: Schema.NonNegativeInt, shards: Schema.Array(Schema.NonNegativeInt) }
}) {}

export const ShardStateName = Schema.Literal("serving", "pulling", "sending")

export class ShardNodeStatus extends Schema.Class<ShardNodeStatus>("ShardNodeStatus")({
  ...replicaStatusFields,
  gid: Schema.NonNegativeInt,
  /** The config num this group has adopted. */
  config: Schema.NonNegativeInt,
  /** shard (as a string) → its state, for every shard this replica holds data or duties for. */
  shards: Schema.Record({ key: Schema.String, value: ShardStateName }),
  /** Keys with a value, in all shards held (awaiting deletion included). */
  keys: Schema.NonNegativeInt,
  /** Bytes of keys and values held, in all shards held (awaiting deletion included). */
  dataBytes: Schema.NonNegativeInt
}) {}

export class ShardStatus extends Schema.TaggedRequest<ShardStatus>()("ShardStatus", {
  failure: Schema.Never,
  success: ShardNodeStatus,
  payload: {}
}) {}

export type ShardKvRequest = ShardGet | ShardWrite | PullShard | DeleteShards | ShardStatus

export const ShardKvProtocol = Transport.protocol("ShardKV", ShardGet, ShardWrite, PullShard, DeleteShards, ShardStatus)
