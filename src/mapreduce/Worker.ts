/**
 * `Worker`: asks the coordinator for a task, runs it, reports, and asks again — until the coordinator
 * says the job is over or cannot be reached any more.
 *
 * A worker runs one task at a time, in its own fiber. It needs a `Transport` (to call the
 * coordinator) and a `FileSystem` (inputs, intermediate files, outputs). App code runs with `MrEnv`
 * (this worker's id, the job directory, counters, `crash`).
 *
 * Failure handling:
 * - the app fails (throws, rejects, fails its Effect) or a file operation fails: the attempt is
 *   reported as failed and the coordinator assigns the task again;
 * - `MrEnv.crash`: a real worker process exits; in a simulation the worker's fiber is interrupted,
 *   leaving whatever it had half-written, like a real crash;
 * - the coordinator is unreachable: the worker keeps asking for `coordinatorGoneMs`, then concludes
 *   the job is over (the 6.824 coordinator exits when done) and returns `CoordinatorGone`;
 * - a report that cannot be delivered is retried a few times, then dropped: the task's lease expires
 *   and it runs again elsewhere.
 * @since 0.1.0
 */
import type { FileSystem } from "@effect/platform"
import { Clock, Context, Duration, Effect, Either, Fiber, Layer, Schedule, type Scope } from "effect"
import { Transport, type NodeId } from "../rpc/Transport.js"
import type { App, MrEnvShape } from "./App.js"
import { GetTask, type MapTask, type ReduceTask, ReportTask, Failed, Succeeded } from "./Messages.js"
import { runMap, runReduce, type TaskContext } from "./internal/tasks.js"

export interface WorkerConfig {
  /** This worker's id: a real worker's process id; unique among the job's workers. */
  readonly id: string
  /** The coordinator's node id (a `host:port` over TCP). */
  readonly coordinator: NodeId
  readonly app: App
  /** The job directory (intermediate files and outputs). Inputs are read at the path the coordinator gives. */
  readonly dir: string
  /** Whether another worker is alive (the test apps count live workers). Default: always true. */
  readonly isAlive: (workerId: string) => Effect.Effect<boolean>
  /** What `MrEnv.crash` does. Default: interrupt the worker's fiber (a simulated crash). */
  readonly crash: Effect.Effect<never>
  /** Timeout of each RPC to the coordinator. */
  readonly rpcTimeoutMs: number
  /** Exit after the coordinator has been unreachable this long. */
  readonly coordinatorGoneMs: number
  /** Pause between attempts to reach an unreachable coordinator. */
  readonly retryMs: number
  /** Output files are written in chunks of about this many characters. */
  readonly writeChunkChars: number
}

export const defaults = {
  isAlive: (_: string) => Effect.succeed(true),
  crash: Effect.interrupt,
  rpcTimeoutMs: 10_000,
  coordinatorGoneMs: 3_000,
  retryMs: 250,
  writeChunkChars: 1 << 20
} as const

export const makeConfig = (
  options: Pick<WorkerConfig, "id" | "coordinator" | "app" | "dir"> & Partial<WorkerConfig>
): WorkerConfig => ({
  ...defaults,
  ...options
})

/** How a worker's run ended. */
export interface WorkerExit {
  readonly reason: "Done" | "Failed" | "CoordinatorGone"
  /** Tasks attempted. */
  readonly tasks: number
  /** Of those, attempts that failed. */
  readonly failed: number
  /** Whether the coordinator ever answered (false: wrong address, or it was never up). */
  readonly reachedCoordinator: boolean
}

/** A worker running in the background of a scope. */
export interface WorkerShape {
  readonly id: string
  /** Waits until the worker ends; interrupted (a crash) if the worker crashed. */
  readonly await: Effect.Effect<WorkerExit>
  /** The worker's fiber (interrupt it to crash the worker). */
  readonly fiber: Fiber.RuntimeFiber<WorkerExit>
}

/** Failure detail sent to the coordinator: one line, bounded. */
const describeError = (e: unknown): string => {
  const text = e instanceof Error ? e.message : String(e)
  const line = text.split("\n")[0] ?? ""
  return line.length > 500 ? line.slice(0, 500) + "…" : line
}

/**
 * Runs the worker loop until the job is over. Interruption (including `MrEnv.crash` in a simulation)
 * ends it at once, without reporting.
 */
export const run = (config: WorkerConfig): Effect.Effect<WorkerExit, never, Transport | FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const transport = yield* Transport
    const timeout = Duration.millis(config.rpcTimeoutMs)
    let tasks = 0
    let failed = 0
    let unreachableSince: number | undefined
    let reachedCoordinator = false

    const report = (request: ReportTask) =>
      transport.call(config.coordinator, request, { timeout }).pipe(
        Effect.retry({ times: 3, schedule: Schedule.spaced(Duration.millis(config.retryMs)) }),
        // Not fatal: the task's lease expires and it runs again (or the job is over and the coordinator gone).
        Effect.catchAll((e) =>
          Effect.logDebug(`worker ${config.id}: report of attempt ${request.attempt} lost: ${e.message}`)
        )
      )

    const runTask = (task: MapTask | ReduceTask) =>
      Effect.gen(function*() {
        tasks++
        const counters: Record<string, number> = {}
        const env: MrEnvShape = {
          workerId: config.id,
          dir: config.dir,
          isAlive: config.isAlive,
          crash: config.crash,
          count: (name, delta) =>
            Number.isFinite(delta)
              ? Effect.sync(() => void (counters[name] = (counters[name] ?? 0) + delta))
              : Effect.dieMessage(`counter ${name}: ${delta} is not a finite number`)
        }
        const ctx: TaskContext = {
          app: config.app,
          dir: config.dir,
          env,
          attempt: task.attempt,
          writeChunkChars: config.writeChunkChars
        }
        const kind = task._tag === "MapTask" ? "map" : "reduce"
        const result = yield* Effect.either(
          task._tag === "MapTask"
            ? runMap(ctx, task.index, task.file, task.nReduce)
            : runReduce(ctx, task.index, task.nMap)
        ).pipe(
          Effect.withSpan(`Worker.${kind}`, {
            attributes: { worker: config.id, task: task.index, attempt: task.attempt, backup: task.backup }
          })
        )
        let outcome: Succeeded | Failed
        if (Either.isRight(result)) outcome = new Succeeded({ counters, stats: result.right })
        else {
          failed++
          outcome = new Failed({ error: describeError(result.left) })
          yield* Effect.logWarning(`worker ${config.id}: ${kind} task ${task.index} failed: ${outcome.error}`)
        }
        yield* report(
          new ReportTask({
            worker: config.id,
            task: { kind: task._tag === "MapTask" ? "Map" : "Reduce", index: task.index },
            attempt: task.attempt,
            outcome
          })
        )
      })

    for (;;) {
      const ask = transport.call(config.coordinator, new GetTask({ worker: config.id }), { timeout })
      const reply = yield* Effect.either(ask)
      if (Either.isLeft(reply)) {
        const now = yield* Clock.currentTimeMillis
        unreachableSince ??= now
        if (now - unreachableSince >= config.coordinatorGoneMs) {
          yield* Effect.logDebug(`worker ${config.id}: coordinator unreachable (${reply.left.message}); exiting`)
          return { reason: "CoordinatorGone", tasks, failed, reachedCoordinator } satisfies WorkerExit
        }
        yield* Effect.sleep(Duration.millis(config.retryMs))
        continue
      }
      unreachableSince = undefined
      reachedCoordinator = true
      const a = reply.right
      switch (a._tag) {
        case "Exit":
          return { reason: a.reason, tasks, failed, reachedCoordinator } satisfies WorkerExit
        case "Wait":
          yield* Effect.sleep(Duration.millis(a.retryMs))
          break
        case "MapTask":
        case "ReduceTask":
          yield* runTask(a)
          break
      }
    }
  })

/** The worker service tag. */
export class Worker extends Context.Tag("concord/mapreduce/Worker")<Worker, WorkerShape>() {}

/** Starts a worker in the background of the current scope. */
export const make = (
  config: WorkerConfig
): Effect.Effect<WorkerShape, never, Transport | FileSystem.FileSystem | Scope.Scope> =>
  Effect.map(Effect.forkScoped(run(config)), (fiber) => ({
    id: config.id,
    fiber,
    await: Fiber.join(fiber)
  }))

/** A worker as a Layer (needs a `Transport` and a `FileSystem`); it works while the Layer lives. */
export const layer = (config: WorkerConfig): Layer.Layer<Worker, never, Transport | FileSystem.FileSystem> =>
  Layer.scoped(Worker, make(config))
