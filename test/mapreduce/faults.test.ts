/**
 * Failure handling beyond the test-mr.sh scenarios, each in a seeded simulation: a worker crashing
 * halfway through writing a file, lease expiry at the coordinator, duplicate completion reports, a
 * worker reporting after its task was reassigned, backup tasks, a failing app, the combiner and the
 * partitioner, and replay of a whole run from its seed.
 */
import { FileSystem } from "@effect/platform"
import { Effect, Either, Exit, Fiber, Layer, Random } from "effect"
import { describe, expect, it } from "vitest"
import { simTest } from "../support/simTest.js"
import * as App from "../../src/mapreduce/App.js"
import * as crash from "../../src/mapreduce/apps/crash.js"
import * as nocrash from "../../src/mapreduce/apps/nocrash.js"
import * as wc from "../../src/mapreduce/apps/wc.js"
import { ihash } from "../../src/mapreduce/internal/text.js"
import { runMap } from "../../src/mapreduce/internal/tasks.js"
import { GetTask, ReportTask, Succeeded } from "../../src/mapreduce/Messages.js"
import type { Notice } from "../../src/mapreduce/Scheduler.js"
import * as Coordinator from "../../src/mapreduce/Coordinator.js"
import * as Worker from "../../src/mapreduce/Worker.js"
import * as SimNetwork from "../../src/rpc/SimNetwork.js"
import * as MemoryFileSystem from "../../src/sim/MemoryFileSystem.js"
import * as Simulation from "../../src/sim/Simulation.js"
import { books, COORDINATOR, INPUTS, JOB_DIR, makeCluster, type Cluster } from "./support/MrHarness.js"

const wcApp = Effect.runSync(App.fromModule("wc", wc))
const limit = { timeLimit: "180 seconds" } as const
const noBackups = { backup: undefined }
const totalBookBytes = books.reduce((n, b) => n + b.data.length, 0)

const noticesOf = <T extends Notice["_tag"]>(c: Cluster, tag: T) =>
  c.notices.filter((n): n is { atMs: number; notice: Extract<Notice, { _tag: T }> } => n.notice._tag === tag)

/** The keys in `mr-out-<r>`. */
const keysOf = (c: Cluster, r: number) =>
  Effect.map(c.fs.readFileString(`${JOB_DIR}/mr-out-${r}`), (text) =>
    text.split("\n").filter((l) => l !== "").map((l) => l.split(" ")[0]!))

/** Runs the coordinator and `n` workers of `app` to the end; returns the job's summary. */
const runJob = (c: Cluster, app: App.App, n: number) =>
  Effect.gen(function*() {
    const coordinator = yield* c.startCoordinator()
    for (let i = 0; i < n; i++) yield* c.startWorker(app)
    const result = yield* Fiber.join(coordinator.fiber)
    if (Either.isLeft(result)) throw new Error(result.left.message)
    return result.right
  })

describe("MapReduce failures (simulated)", () => {
  simTest("a worker crashing halfway through writing its output leaves no partial mr-out file", Effect.gen(function*() {
    let cluster: Cluster | undefined
    let writes = 0
    let atCrash: { outputExists: boolean; partial: number; temp: string } | undefined
    const c = yield* makeCluster({
      coordinator: noBackups,
      // Small chunks: a reduce output is several writes, so a crash can fall between them.
      worker: { writeChunkChars: 2000 },
      fs: {
        onOperation: (op) =>
          Effect.gen(function*() {
            if (atCrash !== undefined || op.method !== "file.write" || !op.path.endsWith("-mr-out-3")) return
            if (++writes < 3) return
            // The third chunk of mr-out-3: crash before it lands.
            const fs = cluster!.fs
            atCrash = {
              outputExists: yield* fs.exists(`${JOB_DIR}/mr-out-3`),
              partial: (yield* fs.readFile(op.path)).length,
              temp: op.path
            }
            return yield* Effect.interrupt
          }).pipe(Effect.orDie)
      }
    })
    cluster = c
    const expected = yield* c.reference(wcApp)
    const summary = yield* runJob(c, wcApp, 2)
    expect(atCrash).toBeDefined()
    expect(atCrash!.outputExists).toBe(false)
    expect(atCrash!.partial).toBeGreaterThan(0)
    const final = (yield* c.fs.readFile(`${JOB_DIR}/mr-out-3`)).length
    expect(atCrash!.partial).toBeLessThan(final)
    expect(yield* c.output).toEqual(expected)
    // The crashed attempt's lease ran out and reduce 3 ran again; the leftover temp file was removed.
    expect(noticesOf(c, "Expired").map((n) => n.notice.task)).toEqual([{ kind: "Reduce", index: 3 }])
    expect(summary.progress.reexecutions).toBe(1)
    expect(yield* c.fs.exists(atCrash!.temp)).toBe(false)
  }), limit)

  simTest("a map worker crashing between renames of its intermediate files", Effect.gen(function*() {
    let crashed = false
    const c = yield* makeCluster({
      coordinator: noBackups,
      fs: {
        onOperation: (op) =>
          !crashed && op.method === "rename" && op.to === `${JOB_DIR}/mr-2-5`
            ? Effect.suspend(() => {
              crashed = true
              return Effect.interrupt
            })
            : Effect.void
      }
    })
    const expected = yield* c.reference(wcApp)
    yield* runJob(c, wcApp, 3)
    expect(crashed).toBe(true)
    expect(yield* c.output).toEqual(expected)
    expect(noticesOf(c, "Expired").map((n) => n.notice.task)).toEqual([{ kind: "Map", index: 2 }])
  }), limit)

  simTest("lease expiry at the coordinator: a hung attempt is reassigned after 10 s", Effect.gen(function*() {
    let hung = false
    // The first attempt of map 4 hangs forever; everything else is word count.
    const hangOnce: App.App = {
      ...wcApp,
      map: (file, contents) => {
        if (file === INPUTS[4] && !hung) {
          hung = true
          return Effect.never
        }
        return wcApp.map(file, contents)
      }
    }
    const c = yield* makeCluster({ coordinator: noBackups })
    const expected = yield* c.reference(wcApp)
    yield* runJob(c, hangOnce, 2)
    expect(yield* c.output).toEqual(expected)
    const assigned = noticesOf(c, "Assigned").filter((n) => n.notice.task.kind === "Map" && n.notice.task.index === 4)
    expect(assigned).toHaveLength(2)
    const [first, second] = assigned as [typeof assigned[number], typeof assigned[number]]
    const expired = noticesOf(c, "Expired")
    expect(expired).toHaveLength(1)
    expect(expired[0]!.notice).toMatchObject({ attempt: first.notice.attempt, worker: first.notice.worker })
    // Noticed at the next poll (every 100 ms) or tick after the 10 s lease.
    expect(expired[0]!.atMs - first.atMs).toBeGreaterThanOrEqual(10_000)
    expect(expired[0]!.atMs - first.atMs).toBeLessThanOrEqual(10_100)
    expect(second.notice.worker).not.toBe(first.notice.worker)
    expect(second.notice.reexecution).toBe(true)
    expect(second.atMs).toBe(expired[0]!.atMs)
    // The hung worker is still stuck in its map: it never reported.
    expect(c.alive.has(first.notice.worker)).toBe(true)
  }), limit)

  simTest("duplicate completion reports are acknowledged as duplicates and counted once", Effect.gen(function*() {
    const c = yield* makeCluster()
    const expected = yield* c.reference(wcApp)
    const coordinator = yield* c.startCoordinator()
    yield* c.coordinator
    // A hand-driven worker: take a task, do it, report it three times.
    const raw = yield* c.net.meshTransport("raw", [COORDINATOR])
    const task = yield* raw.call(COORDINATOR, new GetTask({ worker: "raw" }))
    if (task._tag !== "MapTask") throw new Error(`expected a map task, got ${task._tag}`)
    const env = {
      workerId: "raw",
      dir: JOB_DIR,
      isAlive: () => Effect.succeed(true),
      crash: Effect.interrupt,
      count: () => Effect.void
    }
    const ctx = { app: wcApp, dir: JOB_DIR, env, attempt: task.attempt, writeChunkChars: 1 << 20 }
    const stats = yield* runMap(ctx, task.index, task.file, task.nReduce).pipe(
      Effect.provideService(FileSystem.FileSystem, c.fs)
    )
    const report = new ReportTask({
      worker: "raw",
      task: { kind: "Map", index: task.index },
      attempt: task.attempt,
      outcome: new Succeeded({ counters: { mine: 1 }, stats })
    })
    expect(yield* raw.call(COORDINATOR, report)).toBe("Accepted")
    expect(yield* raw.call(COORDINATOR, report)).toBe("Duplicate")
    expect(yield* raw.call(COORDINATOR, report)).toBe("Duplicate")
    for (let i = 0; i < 2; i++) yield* c.startWorker(wcApp)
    const result = yield* Fiber.join(coordinator.fiber)
    if (Either.isLeft(result)) throw result.left
    expect(result.right.stats["map.input.bytes"]).toBe(totalBookBytes)
    expect(result.right.counters).toEqual({ mine: 1 })
    expect(noticesOf(c, "Duplicate")).toHaveLength(2)
    expect(yield* c.output).toEqual(expected)
  }), limit)

  const map0 = (n: { notice: { task: { kind: string; index: number } } }) =>
    n.notice.task.kind === "Map" && n.notice.task.index === 0

  /** Map 0's attempts sleep these many seconds in turn, and count themselves; the rest is word count. */
  const slowFirstMap = (sleeps: ReadonlyArray<number>): App.App => {
    let attempt = 0
    return {
      ...wcApp,
      map: (file, contents) =>
        Effect.gen(function*() {
          yield* App.count("maps")
          if (file === INPUTS[0]) yield* Effect.sleep(`${sleeps[attempt++] ?? 0} seconds`)
          return wcApp.map(file, contents) as Iterable<App.KeyValue>
        })
    }
  }

  simTest("a worker reporting after its task was reassigned: its late report wins if first", Effect.gen(function*() {
    const c = yield* makeCluster({ coordinator: noBackups, graceMs: 30_000 })
    const expected = yield* c.reference(wcApp)
    // Attempt 1 takes 15 s (its lease expires at 10 s); attempt 2, started at 10 s, takes 8 s.
    const summary = yield* runJob(c, slowFirstMap([15, 8]), 2)
    yield* Effect.sleep("5 seconds") // the job is done; let the second attempt report
    const [first, second] = noticesOf(c, "Assigned").filter(map0)
    expect(noticesOf(c, "Expired").filter(map0).map((n) => n.notice.attempt)).toEqual([first!.notice.attempt])
    // The first attempt reports at 15 s, after the reassignment: accepted.
    const completed = noticesOf(c, "Completed").filter(map0)
    expect(completed.map((n) => [n.notice.attempt, n.notice.durationMs])).toEqual([[first!.notice.attempt, 15_000]])
    // The second attempt's report at 18 s is a duplicate; its counters are not added.
    expect(noticesOf(c, "Duplicate").filter(map0).map((n) => n.notice.attempt)).toEqual([second!.notice.attempt])
    expect(summary.counters).toEqual({ maps: 8 })
    expect(summary.progress.reexecutions).toBe(1)
    expect(yield* c.output).toEqual(expected)
  }), { timeLimit: "300 seconds" })

  simTest("a worker that reports after its task was reassigned and completed: a duplicate", Effect.gen(function*() {
    const c = yield* makeCluster({ coordinator: noBackups, graceMs: 30_000 })
    const expected = yield* c.reference(wcApp)
    // Attempt 1 takes 25 s; attempt 2 (at 10 s) takes 3 s and completes first.
    const summary = yield* runJob(c, slowFirstMap([25, 3]), 2)
    yield* Effect.sleep("20 seconds") // the job is done; let the slow attempt report
    const [first, second] = noticesOf(c, "Assigned").filter(map0)
    expect(noticesOf(c, "Completed").filter(map0).map((n) => n.notice.attempt)).toEqual([second!.notice.attempt])
    expect(noticesOf(c, "Duplicate").filter(map0).map((n) => n.notice.attempt)).toEqual([first!.notice.attempt])
    expect(summary.counters).toEqual({ maps: 8 })
    expect(yield* c.output).toEqual(expected)
  }), { timeLimit: "300 seconds" })

  simTest("backup tasks: a straggler gets a second attempt near the end of the phase", Effect.gen(function*() {
    // Every map takes 1 s, except the first attempt of map 0 (30 s, under a 60 s lease).
    let straggled = false
    const app: App.App = {
      ...wcApp,
      map: (file, contents) =>
        Effect.gen(function*() {
          const slow = file === INPUTS[0] && !straggled
          if (slow) straggled = true
          yield* Effect.sleep(slow ? "30 seconds" : "1 second")
          return wcApp.map(file, contents) as Iterable<App.KeyValue>
        })
    }
    const c = yield* makeCluster({ coordinator: { leaseMs: 60_000 } })
    const expected = yield* c.reference(wcApp)
    const summary = yield* runJob(c, app, 4)
    const backups = noticesOf(c, "Assigned").filter((n) => n.notice.backup)
    expect(backups.map((n) => n.notice.task)).toEqual([{ kind: "Map", index: 0 }])
    expect(summary.progress.backups).toBe(1)
    // Without the backup the job would take 30 s; with it, about 3x the 1 s median plus 1 s.
    expect(summary.elapsedMs).toBeLessThan(6_000)
    expect(yield* c.output).toEqual(expected)
  }), limit)

  simTest("an app that keeps failing fails the job after 4 attempts; everyone exits", Effect.gen(function*() {
    const failing: App.App = {
      ...wcApp,
      map: (file, contents) => {
        if (file === INPUTS[1]) throw new Error("corrupt input")
        return wcApp.map(file, contents)
      }
    }
    const c = yield* makeCluster()
    const coordinator = yield* c.startCoordinator()
    const workers = [yield* c.startWorker(failing), yield* c.startWorker(failing)]
    const result = yield* Fiber.join(coordinator.fiber)
    expect(Either.isLeft(result)).toBe(true)
    expect(Either.isLeft(result) && result.left.message).toBe(
      `job failed: map task 1 (${INPUTS[1]}) failed 4 times; last error: wc: map("${INPUTS[1]}") failed: corrupt input`
    )
    for (const w of workers) {
      const exit = yield* Fiber.await(w.fiber)
      expect(Exit.isSuccess(exit) && ["Failed", "CoordinatorGone"].includes(exit.value.reason)).toBe(true)
    }
  }), limit)

  simTest("a counter that is not a finite number fails the task, not the worker", Effect.gen(function*() {
    const nan: App.App = {
      ...wcApp,
      map: (file, contents) => Effect.as(App.count("ratio", 0 / 0), wcApp.map(file, contents) as Iterable<App.KeyValue>)
    }
    const c = yield* makeCluster()
    const coordinator = yield* c.startCoordinator()
    const worker = yield* c.startWorker(nan)
    const result = yield* Fiber.join(coordinator.fiber)
    const message = Either.isLeft(result) ? result.left.message : ""
    expect(message).toMatch(/failed 4 times; last error: .*counter ratio: NaN is not a finite number/)
    const exit = yield* Fiber.await(worker.fiber)
    expect(Exit.isSuccess(exit)).toBe(true)
  }), limit)

  simTest("a missing input fails its map task and the job, with the file named", Effect.gen(function*() {
    const c = yield* makeCluster({ inputs: [...INPUTS, "../no-such-book.txt"] })
    const coordinator = yield* c.startCoordinator()
    yield* c.startWorker(wcApp)
    const result = yield* Fiber.join(coordinator.fiber)
    expect(Either.isLeft(result) && result.left.message).toContain("map task 8 (../no-such-book.txt) failed 4 times")
    expect(Either.isLeft(result) && result.left.message).toContain("no such file or directory")
  }), limit)

  simTest("combiner: a map-side partial reduce cuts intermediate records, same output", Effect.gen(function*() {
    // Word count as the original writes it: one ("word", "1") pair per occurrence.
    const ones: App.App = {
      name: "wc-ones",
      map: (_file, contents) => (contents.match(/[A-Za-z]+/g) ?? []).map((key) => ({ key, value: "1" })),
      reduce: (_key, values) => String(values.reduce((n, v) => n + Number(v), 0)),
      combine: (_key, values) => String(values.reduce((n, v) => n + Number(v), 0))
    }
    const c = yield* makeCluster()
    const expected = yield* c.reference(wcApp)
    const summary = yield* runJob(c, ones, 3)
    expect(yield* c.output).toEqual(expected)
    const s = summary.stats
    expect(s["map.output.records"]).toBeGreaterThan(600_000)
    expect(s["combine.output.records"]).toBeLessThan(s["map.output.records"]! / 10)
    expect(s["reduce.input.records"]).toBe(s["combine.output.records"])
    expect(s["reduce.output.records"]).toBe(22107)
  }), limit)

  simTest("custom partitioner: each output file holds exactly its partition's keys", Effect.gen(function*() {
    // Words by first letter: a-e to 0, f-j to 1, ...
    const byLetter: App.App = {
      ...wcApp,
      partition: (key, n) => Math.min(n - 1, Math.floor((key.toLowerCase().charCodeAt(0) - 97) / 5))
    }
    const c = yield* makeCluster({ nReduce: 6 })
    const expected = yield* c.reference(wcApp)
    yield* runJob(c, byLetter, 3)
    expect(yield* c.output).toEqual(expected)
    for (let r = 0; r < 6; r++) {
      const keys = yield* keysOf(c, r)
      expect(keys.length).toBeGreaterThan(0)
      for (const k of keys) expect(byLetter.partition!(k, 6)).toBe(r)
    }
  }), limit)

  simTest("the default partitioner is the original's ihash: FNV-1a & 0x7fffffff mod nReduce", Effect.gen(function*() {
    const c = yield* makeCluster()
    yield* runJob(c, wcApp, 2)
    for (let r = 0; r < 10; r++) {
      const keys = yield* keysOf(c, r)
      for (const k of keys) expect(ihash(k) % 10).toBe(r)
    }
  }), limit)
})

describe("MapReduce services as Layers", () => {
  simTest("a coordinator Layer and two worker Layers run a job", Effect.gen(function*() {
    const files: Record<string, Uint8Array> = {}
    for (const b of books) files[`/${b.name}`] = b.data
    const fs = yield* MemoryFileSystem.make({ files })
    const net = yield* SimNetwork.make()
    const inputs = books.map((b) => `/${b.name}`)
    const worker = (id: string) =>
      Worker.layer(Worker.makeConfig({ id, coordinator: "c", app: wcApp, dir: "/job" })).pipe(
        Layer.provide(SimNetwork.layerMesh(id, ["c"]))
      )
    const summary = yield* Effect.flatMap(Coordinator.Coordinator, (c) => c.await).pipe(
      Effect.provide(Layer.mergeAll(
        Coordinator.layer(Coordinator.makeConfig({ inputs, nReduce: 3, dir: "/job" })).pipe(
          Layer.provide(SimNetwork.layerMesh("c", []))
        ),
        worker("w1"),
        worker("w2")
      )),
      Effect.provideService(FileSystem.FileSystem, fs),
      Effect.provideService(SimNetwork.SimNetwork, net)
    )
    expect(summary.outputs).toEqual(["/job/mr-out-0", "/job/mr-out-1", "/job/mr-out-2"])
    expect(summary.stats["reduce.output.records"]).toBe(22107)
    expect(summary.progress.workers).toBe(2)
  }), limit)
})

describe("MapReduce simulation replay", () => {
  it("the crash scenario replays bit for bit from its seed", async () => {
    const crashApp = Effect.runSync(App.fromModule("crash", crash))
    const nocrashApp = Effect.runSync(App.fromModule("nocrash", nocrash))
    const scenario = Effect.scoped(Effect.gen(function*() {
      const c = yield* makeCluster()
      const coordinator = yield* c.startCoordinator()
      yield* c.startWorker(crashApp)
      yield* c.superviseWorkers(crashApp)
      yield* c.superviseWorkers(crashApp)
      yield* Fiber.await(coordinator.fiber)
      const out = yield* c.output
      const expected = yield* c.reference(nocrashApp)
      expect(out).toEqual(expected)
      return { notices: JSON.stringify(c.notices), draw: yield* Random.nextInt }
    }))
    const seed = 4242
    const a = await Simulation.runOrThrow(scenario, { seed, timeLimit: "600 seconds" })
    const b = await Simulation.runOrThrow(scenario, { seed, timeLimit: "600 seconds" })
    expect(a.value).toEqual(b.value)
    expect(a.stats.simulatedMs).toBe(b.stats.simulatedMs)
    const notices = JSON.parse(a.value.notices) as Array<{ notice: Notice }>
    expect(notices.filter((n) => n.notice._tag === "Expired").length).toBeGreaterThan(0)
  })
})
