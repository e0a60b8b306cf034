/**
 * The 7 test-mr.sh scenarios (SPEC-6824 §7.3) in deterministic simulations: a coordinator and worker
 * fibers on a SimNetwork, sharing an in-memory file system; virtual time, so the apps' sleeps (1 s,
 * 2–5 s, 3 s, up to 10 s) and the 10 s reassignments cost no wall time. Each run is limited to 180
 * simulated seconds, test-mr.sh's per-process timeout. `SEED=<n>` replays a run.
 *
 * The real-process versions of the same scenarios are in testMrProcesses.test.ts.
 */
import { Effect, Exit, Fiber } from "effect"
import { describe, expect } from "vitest"
import { simTest } from "../support/simTest.js"
import * as App from "../../src/mapreduce/App.js"
import * as crash from "../../src/mapreduce/apps/crash.js"
import * as earlyExit from "../../src/mapreduce/apps/early_exit.js"
import * as indexer from "../../src/mapreduce/apps/indexer.js"
import * as jobcount from "../../src/mapreduce/apps/jobcount.js"
import * as mtiming from "../../src/mapreduce/apps/mtiming.js"
import * as nocrash from "../../src/mapreduce/apps/nocrash.js"
import * as rtiming from "../../src/mapreduce/apps/rtiming.js"
import * as wc from "../../src/mapreduce/apps/wc.js"
import type { WorkerExit } from "../../src/mapreduce/Worker.js"
import { checkJobCount, checkMapParallelism, checkReduceParallelism } from "./support/checks.js"
import { type Cluster, makeCluster, type Proc } from "./support/MrHarness.js"

const app = (name: string, mod: unknown) => Effect.runSync(App.fromModule(name, mod))
const apps = {
  wc: app("wc", wc),
  indexer: app("indexer", indexer),
  mtiming: app("mtiming", mtiming),
  rtiming: app("rtiming", rtiming),
  jobcount: app("jobcount", jobcount),
  early_exit: app("early_exit", earlyExit),
  crash: app("crash", crash),
  nocrash: app("nocrash", nocrash)
}

const limit = { timeLimit: "180 seconds" } as const

/** Starts the coordinator, sleeps 1 s (as the script does), starts `n` workers. */
const start = (c: Cluster, a: App.App, n: number) =>
  Effect.gen(function*() {
    const coordinator = yield* c.startCoordinator()
    yield* Effect.sleep("1 second")
    const workers: Array<Proc<WorkerExit>> = []
    for (let i = 0; i < n; i++) workers.push(yield* c.startWorker(a))
    return { coordinator, workers }
  })

/** Waits for the coordinator, then for every worker; all must end cleanly, the workers after the job. */
const finish = (coordinator: Proc<unknown>, workers: ReadonlyArray<Proc<WorkerExit>>) =>
  Effect.gen(function*() {
    const exit = yield* Fiber.await(coordinator.fiber)
    expect(Exit.isSuccess(exit)).toBe(true)
    for (const w of workers) {
      const e = yield* Fiber.await(w.fiber)
      if (Exit.isFailure(e)) throw new Error(`worker ${w.id} did not exit cleanly`)
      expect(["Done", "CoordinatorGone"]).toContain(e.value.reason)
    }
  })

describe("test-mr.sh in simulation", () => {
  simTest("wc", Effect.gen(function*() {
    const c = yield* makeCluster()
    const expected = yield* c.reference(apps.wc)
    const { coordinator, workers } = yield* start(c, apps.wc, 3)
    yield* Fiber.await(coordinator.fiber)
    expect(yield* c.output).toEqual(expected)
    yield* finish(coordinator, workers)
    expect(expected).toHaveLength(22107)
    // The coordinator removed the intermediate files; only outputs remain.
    expect((yield* c.fs.readDirectory("/mr-tmp")).filter((f) => !f.startsWith("mr-out-"))).toEqual([])
  }), limit)

  simTest("indexer", Effect.gen(function*() {
    const c = yield* makeCluster()
    const expected = yield* c.reference(apps.indexer)
    const { coordinator, workers } = yield* start(c, apps.indexer, 2)
    yield* finish(coordinator, workers)
    expect(yield* c.output).toEqual(expected)
  }), limit)

  simTest("map parallelism", Effect.gen(function*() {
    const c = yield* makeCluster()
    const { coordinator, workers } = yield* start(c, apps.mtiming, 2)
    yield* finish(coordinator, workers)
    checkMapParallelism(yield* c.output)
  }), limit)

  simTest("reduce parallelism", Effect.gen(function*() {
    const c = yield* makeCluster()
    const { coordinator, workers } = yield* start(c, apps.rtiming, 2)
    yield* finish(coordinator, workers)
    checkReduceParallelism(yield* c.output)
  }), limit)

  simTest("job count", Effect.gen(function*() {
    const c = yield* makeCluster()
    const { coordinator, workers } = yield* start(c, apps.jobcount, 4)
    yield* finish(coordinator, workers)
    checkJobCount(yield* c.output)
    expect(c.notices.filter((n) => n.notice._tag === "Assigned" && n.notice.task.kind === "Map")).toHaveLength(8)
  }), limit)

  simTest("early exit", Effect.gen(function*() {
    const c = yield* makeCluster()
    const expected = yield* c.reference(apps.early_exit)
    const { coordinator, workers } = yield* start(c, apps.early_exit, 3)
    // Snapshot the output when the first process exits (`wait -n`).
    const exits: Array<Effect.Effect<unknown>> = [
      Fiber.await(coordinator.fiber),
      ...workers.map((w) => Fiber.await(w.fiber))
    ]
    yield* Effect.raceAll(exits)
    const atFirstExit = yield* c.output
    yield* finish(coordinator, workers)
    const final = yield* c.output
    expect(atFirstExit).toEqual(final)
    expect(final).toEqual(expected)
  }), limit)

  simTest("crash", Effect.gen(function*() {
    const c = yield* makeCluster()
    const expected = yield* c.reference(apps.nocrash)
    const coordinator = yield* c.startCoordinator()
    yield* Effect.sleep("1 second")
    yield* c.startWorker(apps.crash)
    // Three loops that restart a worker whenever one exits or crashes, while the job runs.
    const loops = yield* Effect.all([1, 2, 3].map(() => c.superviseWorkers(apps.crash)))
    yield* Fiber.await(coordinator.fiber)
    yield* Effect.forEach(loops, Fiber.await)
    expect(yield* c.output).toEqual(expected)
  }), limit)
})
