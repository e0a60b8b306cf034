/**
 * The test-mr.sh harness in a simulation: a coordinator and worker "processes" (fibers) on a
 * `SimNetwork`, sharing one in-memory file system laid out as the script's: the books at `/`, the job
 * in `/mr-tmp`, inputs named `../pg-*.txt` as the script passes them.
 *
 * A process is a fiber with its own scope; killing it interrupts the fiber (a crash). The coordinator
 * process serves until the job is done, then waits 1 s and exits, as mrcoordinator does; its network
 * server disappears with it, which is how workers learn it is gone.
 */
import { FileSystem } from "@effect/platform"
import { Deferred, Effect, Exit, Fiber, Layer, Logger, LogLevel, type Scope } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import * as SimNetwork from "../../../src/rpc/SimNetwork.js"
import { Transport } from "../../../src/rpc/Transport.js"
import * as MemoryFileSystem from "../../../src/sim/MemoryFileSystem.js"
import type { App } from "../../../src/mapreduce/App.js"
import * as Coordinator from "../../../src/mapreduce/Coordinator.js"
import type { Notice } from "../../../src/mapreduce/Scheduler.js"
import * as Sequential from "../../../src/mapreduce/Sequential.js"
import * as Worker from "../../../src/mapreduce/Worker.js"

/** The books: `../shared/data/gutenberg` next to the repository (wherever it is cloned). */
export const BOOKS_DIR = join(import.meta.dirname, "../../..", "../shared/data/gutenberg")

/** The eight books, read once per test process (outside any simulation). */
export const books: ReadonlyArray<{ readonly name: string; readonly data: Uint8Array }> = readdirSync(BOOKS_DIR)
  .filter((f) => f.startsWith("pg-") && f.endsWith(".txt"))
  .sort()
  .map((name) => ({ name, data: new Uint8Array(readFileSync(join(BOOKS_DIR, name))) }))

/** The job directory and the inputs, as test-mr.sh names them. */
export const JOB_DIR = "/mr-tmp"
export const INPUTS: ReadonlyArray<string> = books.map((b) => `../${b.name}`)

/** `sort mr-out* | grep .` over the files of `dir` whose names start with `prefix`. */
export const sortedOutput = (fs: FileSystem.FileSystem, dir = JOB_DIR, prefix = "mr-out") =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    for (const name of yield* fs.readDirectory(dir)) {
      if (!name.startsWith(prefix)) continue
      for (const line of (yield* fs.readFileString(`${dir}/${name}`)).split("\n")) if (line !== "") lines.push(line)
    }
    return lines.sort()
  })

/** The sequential runner's sorted output for `app` (written under /ref). */
export const reference = (fs: FileSystem.FileSystem, app: App) =>
  Sequential.run({ app, inputs: INPUTS, dir: "/ref", output: `mr-correct-${app.name}.txt` }).pipe(
    Effect.provideService(FileSystem.FileSystem, fs),
    Effect.zipRight(sortedOutput(fs, "/ref", `mr-correct-${app.name}.txt`))
  )

export interface Proc<A> {
  readonly id: string
  readonly fiber: Fiber.RuntimeFiber<A, unknown>
}

export interface ClusterOptions {
  readonly nReduce?: number
  readonly inputs?: ReadonlyArray<string>
  readonly coordinator?: Partial<Omit<Coordinator.CoordinatorConfig, "inputs" | "nReduce">>
  readonly worker?: Partial<Omit<Worker.WorkerConfig, "id" | "coordinator" | "app" | "dir">>
  readonly fs?: MemoryFileSystem.Options
  /** Keep the coordinator serving this long after the job (default 1 s, as mrcoordinator). */
  readonly graceMs?: number
}

export const COORDINATOR = "coordinator"

type WorkerOverrides = Partial<Omit<Worker.WorkerConfig, "id" | "coordinator" | "app" | "dir">>

/** A simulated test-mr.sh run: the file system, the network, and process control. */
export const makeCluster = (options: ClusterOptions = {}) =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const files: Record<string, Uint8Array> = {}
    for (const b of books) files[`/${b.name}`] = b.data
    const fs = yield* MemoryFileSystem.make({ files, directories: [JOB_DIR, "/ref"], cwd: JOB_DIR, ...options.fs })
    const net = yield* SimNetwork.make()
    const alive = new Set<string>()
    let nextPid = 1000
    const notices: Array<{ readonly atMs: number; readonly notice: Notice }> = []
    const coordinatorReady = yield* Deferred.make<Coordinator.CoordinatorShape>()
    let coordinatorAlive = false
    let jobDone = false
    const fsLayer = Layer.succeed(FileSystem.FileSystem, fs)

    /** Forks a process: a fiber with its own scope, in the cluster's scope. */
    const spawn = <A, E>(
      id: string,
      body: Effect.Effect<A, E, Scope.Scope | Transport | FileSystem.FileSystem>,
      peers: ReadonlyArray<string>
    ) =>
      Effect.gen(function*() {
        const transport = yield* net.meshTransport(id, peers)
        alive.add(id)
        const fiber = yield* Effect.forkIn(
          Effect.scoped(body).pipe(
            Effect.provideService(Transport, transport),
            Effect.provide(fsLayer),
            Effect.ensuring(Effect.sync(() => alive.delete(id))),
            // Workers log each failed attempt; the tests assert on notices instead.
            Logger.withMinimumLogLevel(LogLevel.Error)
          ),
          scope
        )
        return { id, fiber } satisfies Proc<A>
      })

    const startCoordinator = (nReduce = options.nReduce ?? 10) =>
      spawn(COORDINATOR, Effect.gen(function*() {
        coordinatorAlive = true
        const c = yield* Coordinator.make(Coordinator.makeConfig({
          inputs: options.inputs ?? INPUTS,
          nReduce,
          dir: JOB_DIR,
          onNotice: (notice, atMs) => void notices.push({ atMs, notice }),
          ...options.coordinator
        }))
        yield* Deferred.succeed(coordinatorReady, c)
        const result = yield* Effect.either(c.await)
        jobDone = true
        yield* Effect.sleep(`${options.graceMs ?? 1000} millis`)
        return result
      }).pipe(Effect.ensuring(Effect.sync(() => void (coordinatorAlive = false)))), [])

    const startWorker = (app: App, overrides: WorkerOverrides = {}) =>
      Effect.suspend(() => {
        const id = String(nextPid++)
        return spawn(id, Worker.run(Worker.makeConfig({
          id,
          coordinator: COORDINATOR,
          app,
          dir: JOB_DIR,
          isAlive: (other) => Effect.sync(() => alive.has(other)),
          ...options.worker,
          ...overrides
        })), [COORDINATOR])
      })

    /**
     * test-mr.sh's crash loop: while the coordinator runs and the job is not done, start a worker,
     * wait for it to exit (or crash), sleep 1 s, repeat.
     */
    const superviseWorkers = (app: App) =>
      Effect.forkIn(
        Effect.gen(function*() {
          while (coordinatorAlive && !jobDone) {
            const p = yield* startWorker(app)
            yield* Fiber.await(p.fiber)
            yield* Effect.sleep("1 second")
          }
        }),
        scope
      )

    return {
      fs,
      net,
      notices,
      alive,
      startCoordinator,
      startWorker,
      superviseWorkers,
      coordinator: Deferred.await(coordinatorReady),
      isCoordinatorAlive: Effect.sync(() => coordinatorAlive),
      output: sortedOutput(fs),
      reference: (app: App) => reference(fs, app)
    }
  })

export type Cluster = Effect.Effect.Success<ReturnType<typeof makeCluster>>

/** Waits for a process and returns its exit. */
export const awaitProc = <A>(p: Proc<A>) => Fiber.await(p.fiber)

/** Fails unless the process ended successfully; returns its value. */
export const joinProc = <A>(p: Proc<A>) =>
  Effect.flatMap(Fiber.await(p.fiber), (exit) =>
    Exit.isSuccess(exit) ? Effect.succeed(exit.value) : Effect.die(new Error(`process ${p.id} did not exit cleanly`)))
