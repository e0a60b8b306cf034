/**
 * `npm run bench -- sim [--seed N] [--suites raft,kv]`: how fast the simulation runs.
 *
 * 1. Wall-clock cost of a timer firing in virtual time, Concord's Simulation kernel against Effect's
 *    TestClock, on the same workload measured in the same run: 10 fibers, each sleeping a random
 *    1–100 ms in a loop. TestClock is driven as fast as it can be: set to the earliest pending
 *    deadline (`TestClock.sleeps`), repeatedly.
 * 2. Simulated seconds per wall second of the Raft suite (test/raft) and the KV suite (test/kv), one
 *    seed (default 1), on one core: each suite is one vitest process with one worker, run the way
 *    `npm run sweep` runs a chunk (CONCORD_SWEEP=1 from the seed, and the per-test report
 *    `simTest` appends to CONCORD_SWEEP_REPORT: each simulation test's simulated and wall time, as
 *    `Simulation.run` measures them). Printed per suite: simulation tests, summed simulated and wall
 *    seconds, their ratio, and the slowest test (most wall time) with its own rate; also the vitest
 *    process's wall time, which includes startup and the suite's tests that do not simulate. Issue 11's
 *    target for the KV suite: >= 30 simulated s per wall s.
 */
import { Chunk, Effect, Fiber, Random, TestClock, TestContext } from "effect"
import { spawn } from "node:child_process"
import type { SweepReport as Reported } from "../test/support/simTest.js"
import { existsSync, readFileSync } from "node:fs"
import { loadavg } from "node:os"
import { join } from "node:path"
import { Simulation } from "../src/sim/Simulation.js"
import { ROOT, tempDir } from "./_support.js"

const FIBERS = 10

const sleeper = (rounds: number, fired: { n: number }) =>
  Effect.gen(function*() {
    for (let k = 0; k < rounds; k++) {
      yield* Effect.sleep(`${yield* Random.nextIntBetween(1, 101)} millis`)
      fired.n++
    }
  })

const withSimulation = async (rounds: number) => {
  const fired = { n: 0 }
  const program = Effect.forEach(Array.from({ length: FIBERS }), () => sleeper(rounds, fired), { concurrency: "unbounded" })
  const start = performance.now()
  await new Simulation().run(program, { seed: 1 })
  return { fired: fired.n, ms: performance.now() - start }
}

const withTestClock = async (rounds: number) => {
  const fired = { n: 0 }
  const program = Effect.gen(function*() {
    const fibers = yield* Effect.forEach(Array.from({ length: FIBERS }), () => Effect.fork(sleeper(rounds, fired)))
    // The fairest driver: jump straight to the earliest pending deadline each time.
    while (fired.n < FIBERS * rounds) {
      const pending = yield* TestClock.sleeps()
      if (Chunk.isEmpty(pending)) {
        yield* Effect.yieldNow()
        continue
      }
      yield* TestClock.setTime(Math.min(...Chunk.toReadonlyArray(pending)))
    }
    yield* Fiber.joinAll(fibers)
  }).pipe(Effect.provide(TestContext.TestContext))
  const start = performance.now()
  await Effect.runPromise(program)
  return { fired: fired.n, ms: performance.now() - start }
}


/** Runs `dir`'s tests for one seed in one vitest process with one worker, as a sweep chunk does. */
const runSuite = (dir: string, seed: number, report: string) =>
  new Promise<{ code: number; wallMs: number; rows: ReadonlyArray<Reported> }>((resolve) => {
    const started = performance.now()
    const child = spawn("npx", ["vitest", "run", dir, "--reporter=dot", "--maxWorkers=1", "--minWorkers=1"], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "pipe"],
      env: {
        ...process.env,
        CONCORD_SWEEP: "1",
        CONCORD_SWEEP_BASE: String(seed),
        CONCORD_SWEEP_REPORT: report,
        VITEST_MAX_FORKS: "1",
        VITEST_MIN_FORKS: "1"
      }
    })
    let tail = ""
    child.stderr!.on("data", (d: Buffer) => (tail = (tail + d.toString()).slice(-4000)))
    child.on("exit", (code) => {
      const wallMs = performance.now() - started
      const rows = existsSync(report)
        ? readFileSync(report, "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Reported)
        : []
      if (code !== 0) console.log(`  vitest ${dir} exited ${code}${rows.length === 0 ? `: ${tail}` : ""}`)
      resolve({ code: code ?? 1, wallMs, rows })
    })
  })

const SUITES: Record<string, string> = { raft: "test/raft", kv: "test/kv" }

const suiteRates = async (args: ReadonlyArray<string>) => {
  const flag = (name: string) => {
    const i = args.indexOf(`--${name}`)
    return i >= 0 ? args[i + 1] : undefined
  }
  const seed = Number(flag("seed") ?? 1)
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error("--seed: expected a non-negative integer")
  const names = (flag("suites") ?? "raft,kv").split(",").filter((n) => n !== "")
  for (const n of names) if (SUITES[n] === undefined) throw new Error(`--suites: unknown suite ${n} (${Object.keys(SUITES).join(", ")})`)
  const dir = tempDir("concord-bench-sim-")
  console.log(`\nsimulated seconds per wall second, seed ${seed}, one vitest worker per suite (load average ${loadavg().map((x) => x.toFixed(2)).join(" ")})`)
  const table: Array<ReadonlyArray<string>> = [["suite", "tests", "sim s", "wall s", "sim s/wall s", "process s", "slowest test", "sim s", "wall s", "sim s/wall s"]]
  const rates = new Map<string, number>()
  for (const name of names) {
    const { wallMs, rows } = await runSuite(SUITES[name]!, seed, join(dir, `${name}.jsonl`))
    const sim = rows.reduce((a, r) => a + r.simulatedMs, 0)
    const wall = rows.reduce((a, r) => a + r.wallMs, 0)
    const slowest = rows.reduce<Reported | undefined>((a, r) => (a === undefined || r.wallMs > a.wallMs ? r : a), undefined)
    for (const r of rows) for (const s of r.failures) console.log(`  FAILED: ${r.name}, seed ${s}`)
    rates.set(name, sim / wall)
    table.push([
      SUITES[name]!,
      String(rows.length),
      (sim / 1000).toFixed(1),
      (wall / 1000).toFixed(1),
      (sim / Math.max(1, wall)).toFixed(1),
      (wallMs / 1000).toFixed(1),
      slowest?.name ?? "-",
      slowest === undefined ? "-" : (slowest.simulatedMs / 1000).toFixed(1),
      slowest === undefined ? "-" : (slowest.wallMs / 1000).toFixed(1),
      slowest === undefined ? "-" : (slowest.simulatedMs / Math.max(1, slowest.wallMs)).toFixed(1)
    ])
  }
  const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => r[c]!.length)))
  for (const r of table) console.log(`  ${r.map((cell, c) => (c === 0 || c === 6 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ")}`)
  console.log("  (sim s and wall s: summed over the suite's simulation tests as Simulation.run measures them; process s: the whole vitest run)")
  const kv = rates.get("kv")
  if (kv !== undefined) console.log(`\ntarget (issue 11): KV suite >= 30 sim s per wall s on one core: ${kv >= 30 ? "MET" : "missed"} (${kv.toFixed(1)})`)
}

export const run = async (args: ReadonlyArray<string> = []) => {
  const sim = await withSimulation(20_000)
  const test = await withTestClock(30)
  const simUs = (sim.ms * 1000) / sim.fired
  const testUs = (test.ms * 1000) / test.fired
  console.log(`virtual-time timer firings, ${FIBERS} fibers sleeping 1-100 ms in a loop`)
  console.log(`  Simulation: ${sim.fired} firings in ${sim.ms.toFixed(0)} ms: ${simUs.toFixed(1)} µs per firing`)
  console.log(`  TestClock:  ${test.fired} firings in ${test.ms.toFixed(0)} ms: ${testUs.toFixed(1)} µs per firing`)
  console.log(`  Simulation is ${(testUs / simUs).toFixed(0)}x faster per firing`)
  await suiteRates(args)
}
