/**
 * The MapReduce wire protocol between workers and the coordinator.
 *
 * Workers pull: `GetTask` returns an assignment (a map task, a reduce task, wait, or exit), and
 * `ReportTask` tells the coordinator how an attempt ended. Both are idempotent from the coordinator's
 * point of view, so a worker may retry them after a transport error.
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Transport from "../rpc/Transport.js"

const Index = Schema.NonNegativeInt
const Attempt = Schema.NonNegativeInt
const Count = Schema.Int.pipe(Schema.positive())
// Counters may be fractional (a user's choice), never NaN or infinite.
const Counters = Schema.Record({ key: Schema.String, value: Schema.Finite })

export const TaskKind = Schema.Literal("Map", "Reduce")

export const TaskId = Schema.Struct({ kind: TaskKind, index: Index })

/** Run map task `index` over `file`, as attempt `attempt`, writing `mr-<index>-<r>` for every r < nReduce. */
export class MapTask extends Schema.TaggedClass<MapTask>()("MapTask", {
  attempt: Attempt,
  index: Index,
  file: Schema.String,
  nReduce: Count,
  backup: Schema.Boolean
}) {}

/** Run reduce task `index` over `mr-<m>-<index>` for every m < nMap, as attempt `attempt`, writing `mr-out-<index>`. */
export class ReduceTask extends Schema.TaggedClass<ReduceTask>()("ReduceTask", {
  attempt: Attempt,
  index: Index,
  nMap: Schema.NonNegativeInt,
  backup: Schema.Boolean
}) {}

/** Nothing to do now: ask again after `retryMs`. */
export class Wait extends Schema.TaggedClass<Wait>()("Wait", { retryMs: Schema.NonNegativeInt }) {}

/** The job is over (`Done` or `Failed`): the worker should exit. */
export class Exit extends Schema.TaggedClass<Exit>()("Exit", { reason: Schema.Literal("Done", "Failed") }) {}

export const Assignment = Schema.Union(MapTask, ReduceTask, Wait, Exit)
export type Assignment = typeof Assignment.Type

/** A worker asks for work. */
export class GetTask extends Schema.TaggedRequest<GetTask>()("MrGetTask", {
  failure: Schema.Never,
  success: Assignment,
  payload: { worker: Schema.String }
}) {}

/** The attempt succeeded: its user counters and framework statistics. */
export class Succeeded extends Schema.TaggedClass<Succeeded>()("Succeeded", {
  counters: Counters,
  stats: Counters
}) {}

/** The attempt failed (the app's code failed, or an input could not be read). */
export class Failed extends Schema.TaggedClass<Failed>()("Failed", { error: Schema.String }) {}

export const Outcome = Schema.Union(Succeeded, Failed)

/** A worker reports how an attempt ended. */
export class ReportTask extends Schema.TaggedRequest<ReportTask>()("MrReportTask", {
  failure: Schema.Never,
  success: Schema.Literal("Accepted", "Duplicate", "Rejected"),
  payload: {
    worker: Schema.String,
    task: TaskId,
    attempt: Attempt,
    outcome: Outcome
  }
}) {}

export const MapReduceProtocol = Transport.protocol("MapReduce", GetTask, ReportTask)

export type MapReduceRequest = Schema.Schema.Type<(typeof MapReduceProtocol.classes)[number]>
