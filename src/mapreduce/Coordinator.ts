/**
 * `Coordinator`: serves the MapReduce scheduler (`Scheduler.ts`) to workers over a `Transport`.
 *
 * Each RPC steps the pure scheduler once with the current `Clock` time and answers from its reply; a
 * background fiber ticks it every `tickMs` so that expired leases are noticed (and logged) even when no
 * worker is asking. When the last reduce task is reported the job is done: the coordinator removes the
 * intermediate and temporary files (unless told to keep them; again when its scope closes, in case a
 * straggling duplicate attempt renamed one in meanwhile) and `await` returns the job's summary. It keeps serving
 * until its scope closes — callers wait a grace period first (`concord mr coordinator` waits 1 s, as
 * the 6.824 coordinator does) so that polling workers hear "exit" rather than find it gone.
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type { PlatformError } from "@effect/platform/Error"
import { Clock, Context, Data, Deferred, Duration, Effect, Layer, type Scope } from "effect"
import { Transport } from "../rpc/Transport.js"
import * as Files from "./internal/files.js"
import { Exit, type MapReduceRequest, MapReduceProtocol, MapTask, ReduceTask, Wait } from "./Messages.js"
import * as Scheduler from "./Scheduler.js"

export interface CoordinatorConfig extends Scheduler.Config {
  /** The job directory: where workers write intermediate files and outputs. */
  readonly dir: string
  /** How long a worker with nothing to do waits before asking again. */
  readonly pollMs: number
  /** How often leases are checked without a worker asking. */
  readonly tickMs: number
  /** Keep the intermediate files `mr-<m>-<r>` after the job (default: remove them). */
  readonly keepIntermediate: boolean
  /** Called with every scheduler notice and the time it happened (for logs and progress). */
  readonly onNotice: ((notice: Scheduler.Notice, atMs: number) => void) | undefined
}

export const defaults = {
  ...Scheduler.defaults,
  dir: ".",
  pollMs: 50,
  tickMs: 1000,
  keepIntermediate: false,
  onNotice: undefined
} as const

export const makeConfig = (
  options: Pick<CoordinatorConfig, "inputs" | "nReduce"> & Partial<Omit<CoordinatorConfig, "inputs" | "nReduce">>
): CoordinatorConfig => {
  const config = { ...defaults, ...options }
  Scheduler.makeConfig(config)
  return config
}

/** The job failed: a task failed `maxFailures` times. */
export class JobFailed extends Data.TaggedError("JobFailed")<{ readonly reason: string }> {
  override get message() {
    return `job failed: ${this.reason}`
  }
}

/** What a finished job reports. */
export interface JobSummary {
  /** Output files, in reduce-task order (paths in the job directory). */
  readonly outputs: ReadonlyArray<string>
  /** From the first request to the last report. */
  readonly elapsedMs: number
  readonly progress: Scheduler.Progress
  /** User counters, each counted once per task (from the accepted attempt). */
  readonly counters: Scheduler.Counters
  /** Framework statistics (`map.input.bytes`, `reduce.output.records`, ...), likewise. */
  readonly stats: Scheduler.Counters
}

/** A snapshot for progress displays. */
export interface Status {
  readonly progress: Scheduler.Progress
  /** Since the first request (0 before). */
  readonly elapsedMs: number
  /** Input bytes of the completed map tasks. */
  readonly inputBytesDone: number
  readonly state: Scheduler.State
}

export interface CoordinatorShape {
  /** The current progress. */
  readonly status: Effect.Effect<Status>
  /** Waits for the job: its summary, or `JobFailed`. */
  readonly await: Effect.Effect<JobSummary, JobFailed>
  /** Whether the job is over (done or failed). */
  readonly finished: Effect.Effect<boolean>
}

/** The coordinator service tag. */
export class Coordinator extends Context.Tag("concord/mapreduce/Coordinator")<Coordinator, CoordinatorShape>() {}

/** Starts a coordinator that serves until the scope closes. Fails if the job directory cannot be made. */
export const make = (
  config: CoordinatorConfig
): Effect.Effect<CoordinatorShape, PlatformError, Transport | FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const transport = yield* Transport
    const fs = yield* FileSystem.FileSystem
    // Workers write into the job directory; make it before anyone can ask for a task.
    yield* fs.makeDirectory(config.dir, { recursive: true })
    const clock = yield* Effect.clock
    const now = () => clock.unsafeCurrentTimeMillis()
    let state = Scheduler.initial(config)
    const over = yield* Deferred.make<void>()
    const result = yield* Deferred.make<JobSummary, JobFailed>()

    const apply = <R>(f: (s: Scheduler.State) => Scheduler.Step<R>): R => {
      const step = f(state)
      state = step.state
      if (config.onNotice !== undefined) for (const n of step.notices) config.onNotice(n, now())
      if (Scheduler.isFinished(state)) Deferred.unsafeDone(over, Effect.void)
      return step.reply
    }

    const toMessage = (a: Scheduler.Assignment) => {
      switch (a._tag) {
        case "Wait":
          return new Wait({ retryMs: config.pollMs })
        case "Exit":
          return new Exit({ reason: a.reason })
        case "Task":
          return a.task.kind === "Map"
            ? new MapTask({
              attempt: a.attempt,
              index: a.task.index,
              file: a.file!,
              nReduce: a.nReduce,
              backup: a.backup
            })
            : new ReduceTask({ attempt: a.attempt, index: a.task.index, nMap: a.nMap, backup: a.backup })
      }
    }

    yield* transport.serve<MapReduceRequest, never>(MapReduceProtocol, {
      MrGetTask: (request) => Effect.sync(() => toMessage(apply((s) => Scheduler.poll(s, now(), request.worker)))),
      MrReportTask: (request) =>
        Effect.sync(() =>
          apply((s) =>
            Scheduler.report(s, {
              _tag: "Report",
              now: now(),
              worker: request.worker,
              task: request.task,
              attempt: request.attempt,
              outcome: request.outcome._tag === "Succeeded"
                ? { _tag: "Succeeded", counters: request.outcome.counters, stats: request.outcome.stats }
                : { _tag: "Failed", error: request.outcome.error }
            })
          )
        )
    })

    const tick = Effect.sync(() => apply((s) => Scheduler.tick(s, now())))
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Clock.sleep(Duration.millis(config.tickMs)), tick)))

    const cleanup = Effect.gen(function*() {
      const names = yield* fs.readDirectory(config.dir)
      for (const name of names) {
        if (Files.isIntermediate(name) || name.startsWith(Files.TEMP_PREFIX)) {
          yield* fs.remove(Files.join(config.dir, name), { force: true })
        }
      }
    }).pipe(Effect.catchAll((e) => Effect.logWarning(`coordinator: could not remove intermediate files: ${e.message}`)))

    const status = Effect.sync((): Status => {
      const s = state
      return {
        progress: Scheduler.progress(s, now()),
        elapsedMs: s.startMs === undefined ? 0 : (s.endMs ?? now()) - s.startMs,
        inputBytesDone: s.stats["map.input.bytes"] ?? 0,
        state: s
      }
    })

    yield* Effect.forkScoped(Effect.gen(function*() {
      yield* Deferred.await(over)
      if (state.phase === "Failed") {
        return yield* Deferred.fail(result, new JobFailed({ reason: state.failure ?? "unknown" }))
      }
      if (!config.keepIntermediate) {
        yield* cleanup
        // Again at shutdown: a straggling duplicate attempt may have renamed a file in since.
        yield* Effect.addFinalizer(() => cleanup)
      }
      const s = yield* status
      yield* Deferred.succeed(result, {
        outputs: Array.from({ length: config.nReduce }, (_, r) => Files.join(config.dir, Files.outputName(r))),
        elapsedMs: s.elapsedMs,
        progress: s.progress,
        counters: state.counters,
        stats: state.stats
      })
    }))

    return {
      status,
      await: Deferred.await(result),
      finished: Effect.sync(() => Scheduler.isFinished(state))
    } satisfies CoordinatorShape
  })

/** A coordinator as a Layer (needs a `Transport` and a `FileSystem`); it serves while the Layer lives. */
export const layer = (
  config: CoordinatorConfig
): Layer.Layer<Coordinator, PlatformError, Transport | FileSystem.FileSystem> => Layer.scoped(Coordinator, make(config))
