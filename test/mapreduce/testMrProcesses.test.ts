/**
 * The 7 test-mr.sh scenarios with real processes: `concord mr coordinator` and `concord mr worker`
 * processes (the CLI as shipped: bundled from source once per run) talking TCP on loopback, in a fresh temporary directory per
 * scenario, with the books as inputs. Same steps and pass conditions as the script (SPEC-6824 §7.3),
 * plus: every process must exit by itself (workers after the coordinator), and `concord mr run`
 * end to end.
 *
 * Bounded: each scenario has a hard time limit; whatever happens, its processes are killed (by pid)
 * and its directory removed. The scenarios run concurrently: most of their time is the apps' sleeps
 * (jobcount 2–5 s per map, crash up to 10 s plus 10 s reassignments).
 */
import { Effect, Layer } from "effect"
import { NodeFileSystem } from "@effect/platform-node"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { createRequire } from "node:module"
import { fileURLToPath, pathToFileURL } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as App from "../../src/mapreduce/App.js"
import * as Sequential from "../../src/mapreduce/Sequential.js"
import { checkJobCount, checkMapParallelism, checkReduceParallelism } from "./support/checks.js"
import { BOOKS_DIR, books } from "./support/MrHarness.js"

const ROOT = resolve(fileURLToPath(import.meta.url), "../../..")
// Each process runs the bundled CLI: started from source through tsx, every one of the ~40 processes
// would compile the source again (seconds of CPU each on 2 cores, most of this file's time).
const BUILD = mkdtempSync(join(tmpdir(), "concord-mr-bundle-"))
const BUNDLE = join(BUILD, "concord.mjs")
beforeAll(() => {
  execFileSync(process.execPath, [join(ROOT, "scripts/bundle-cli.mjs"), BUNDLE], { cwd: ROOT })
}, 60_000)
afterAll(() => rmSync(BUILD, { recursive: true, force: true }))
// A user's app written in TypeScript needs the tsx loader; `--import tsx` would resolve from the
// process's working directory (a temp dir): pass the loader's URL.
const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href
const INPUTS = books.map((b) => join(BOOKS_DIR, b.name))
/** test-mr.sh kills every process after 180 s; a scenario here must be done well within that. */
const SCENARIO_MS = 170_000

class Proc {
  readonly child: ChildProcess
  readonly exited: Promise<number>
  stdout = ""
  stderr = ""
  code: number | undefined
  constructor(readonly name: string, args: ReadonlyArray<string>, cwd: string, tsx = false) {
    this.child = spawn(process.execPath, [...(tsx ? ["--import", TSX] : []), BUNDLE, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] })
    this.child.stdout!.on("data", (d: Buffer) => void (this.stdout += d.toString()))
    this.child.stderr!.on("data", (d: Buffer) => void (this.stderr += d.toString()))
    this.exited = new Promise((resolve) => {
      this.child.on("exit", (code, signal) => {
        this.code = code ?? (signal === null ? -1 : 128)
        resolve(this.code)
      })
    })
  }
  get running() {
    return this.code === undefined
  }
  kill() {
    if (this.running) this.child.kill("SIGKILL")
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** One scenario's world: a temp dir and the processes started in it; `close` kills them and removes it. */
class Scenario {
  readonly dir = mkdtempSync(join(tmpdir(), "concord-mr-"))
  readonly procs: Array<Proc> = []
  private nextWorker = 1
  start(name: string, args: ReadonlyArray<string>, options?: { readonly tsx?: boolean }) {
    const p = new Proc(name, args, this.dir, options?.tsx)
    this.procs.push(p)
    return p
  }
  /** Starts the coordinator; resolves with it and its address once it listens. */
  async coordinator(extra: ReadonlyArray<string> = []) {
    const p = this.start("coordinator", ["mr", "coordinator", "--progress", "none", ...extra, ...INPUTS])
    const deadline = Date.now() + 60_000
    for (;;) {
      const m = /coordinator listening on (\S+)/.exec(p.stdout)
      if (m !== null) return { proc: p, address: m[1]! }
      if (!p.running) throw new Error(`coordinator exited with ${p.code}: ${p.stderr}`)
      if (Date.now() > deadline) throw new Error("coordinator did not start listening within 60 s")
      await sleep(20)
    }
  }
  worker(address: string, app: string) {
    return this.start(`worker ${this.nextWorker++}`, ["mr", "worker", "--coordinator", address, "--app", app])
  }
  /** `sort mr-out* | grep .` */
  output(prefix = "mr-out") {
    const lines: Array<string> = []
    for (const name of readdirSync(this.dir)) {
      if (!name.startsWith(prefix)) continue
      lines.push(...readFileSync(join(this.dir, name), "utf8").split("\n").filter((l) => l !== ""))
    }
    return lines.sort()
  }
  /** Every process must end by itself within `ms`. */
  async allExit(ms = 30_000) {
    const timer = sleep(ms).then(() => "timeout" as const)
    const all = Promise.all(this.procs.map((p) => p.exited)).then(() => "done" as const)
    if ((await Promise.race([all, timer])) === "timeout") {
      const stuck = this.procs.filter((p) => p.running).map((p) => p.name)
      throw new Error(`processes still running after ${ms} ms: ${stuck.join(", ")}`)
    }
  }
  close() {
    for (const p of this.procs) p.kill()
    rmSync(this.dir, { recursive: true, force: true })
  }
  describe() {
    const stderr = (p: Proc) => (p.stderr === "" ? "" : `\n  ${p.stderr.trim().split("\n").join("\n  ")}`)
    return this.procs.map((p) => `${p.name}: exit ${p.code ?? "running"}${stderr(p)}`).join("\n")
  }
}

/** Runs a scenario with a hard time limit; always kills its processes and removes its directory. */
const scenario = (name: string, body: (s: Scenario) => Promise<void>) =>
  it(name, async () => {
    const s = new Scenario()
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        body(s),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`scenario over its ${SCENARIO_MS} ms limit`)), SCENARIO_MS)
        })
      ])
    } catch (e) {
      throw new Error(`${e instanceof Error ? e.message : String(e)}\nprocesses:\n${s.describe()}`)
    } finally {
      clearTimeout(timer)
      s.close()
    }
  }, SCENARIO_MS + 10_000)

/** The sequential runner's sorted output for a built-in app (in this process, on the real file system). */
const reference = async (app: string) => {
  const dir = mkdtempSync(join(tmpdir(), "concord-mr-ref-"))
  try {
    await Effect.runPromise(Effect.gen(function*() {
      const a = yield* App.load(app)
      yield* Sequential.run({ app: a, inputs: INPUTS, dir })
    }).pipe(Effect.provide(Layer.orDie(NodeFileSystem.layer))))
    return readFileSync(join(dir, "mr-out-0"), "utf8").split("\n").filter((l) => l !== "").sort()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe.concurrent("test-mr.sh with real processes over TCP", () => {
  scenario("wc", async (s) => {
    // The reference from the sequential CLI, as the script makes it.
    const seq = s.start("sequential", ["mr", "sequential", "--app", "wc", "--out", "mr-correct-wc.txt", ...INPUTS])
    expect(await seq.exited).toBe(0)
    expect(seq.stdout).toMatch(/^wrote mr-correct-wc\.txt: 22107 lines from 8 files \(3\.3 MB\)/)
    const expected = s.output("mr-correct-wc.txt")
    const { proc, address } = await s.coordinator()
    await sleep(1000)
    for (let i = 0; i < 3; i++) s.worker(address, "wc")
    expect(await proc.exited).toBe(0)
    expect(s.output()).toEqual(expected)
    await s.allExit()
    expect(s.procs.every((p) => p.code === 0)).toBe(true)
    expect(proc.stdout).toContain("job done in")
  })

  scenario("indexer", async (s) => {
    const expected = await reference("indexer")
    const { proc, address } = await s.coordinator()
    await sleep(1000)
    s.worker(address, "indexer")
    const second = s.worker(address, "indexer")
    expect(await second.exited).toBe(0)
    expect(await proc.exited).toBe(0)
    expect(s.output()).toEqual(expected)
    await s.allExit()
  })

  scenario("map parallelism", async (s) => {
    const { proc, address } = await s.coordinator()
    await sleep(1000)
    s.worker(address, "mtiming")
    s.worker(address, "mtiming")
    expect(await proc.exited).toBe(0)
    await s.allExit()
    checkMapParallelism(s.output())
  })

  scenario("reduce parallelism", async (s) => {
    const { proc, address } = await s.coordinator()
    await sleep(1000)
    s.worker(address, "rtiming")
    s.worker(address, "rtiming")
    expect(await proc.exited).toBe(0)
    await s.allExit()
    checkReduceParallelism(s.output())
  })

  scenario("job count", async (s) => {
    const { proc, address } = await s.coordinator()
    await sleep(1000)
    for (let i = 0; i < 4; i++) s.worker(address, "jobcount")
    expect(await proc.exited).toBe(0)
    await s.allExit()
    checkJobCount(s.output())
  })

  scenario("early exit", async (s) => {
    const expected = await reference("early_exit")
    const { address } = await s.coordinator()
    await sleep(1000)
    for (let i = 0; i < 3; i++) s.worker(address, "early_exit")
    // When the first process exits (`wait -n`), the output must already be final.
    await Promise.race(s.procs.map((p) => p.exited))
    const atFirstExit = s.output()
    await s.allExit()
    expect(atFirstExit).toEqual(s.output())
    expect(s.output()).toEqual(expected)
  })

  scenario("crash", async (s) => {
    const expected = await reference("nocrash")
    const { proc, address } = await s.coordinator()
    await sleep(1000)
    s.worker(address, "crash")
    // Three loops restart workers while the coordinator runs (test-mr.sh watches its socket and mr-done).
    const loop = async () => {
      while (proc.running) {
        await s.worker(address, "crash").exited
        await sleep(1000)
      }
    }
    const loops = [loop(), loop(), loop()]
    expect(await proc.exited).toBe(0)
    await Promise.all(loops)
    await s.allExit()
    expect(s.output()).toEqual(expected)
    // Some workers crashed (exit 1), as the app intends.
    expect(s.procs.filter((p) => p.name.startsWith("worker")).some((p) => p.code === 1)).toBe(true)
  })

  scenario("concord mr run: coordinator and workers in one command", async (s) => {
    const expected = await reference("wc")
    const run = s.start("run", [
      ...["mr", "run", "--app", "wc", "--workers", "2", "--progress", "log", "--dir", "out"],
      ...INPUTS
    ])
    expect(await run.exited).toBe(0)
    const dir = join(s.dir, "out")
    expect(run.stdout).toContain(
      `output: ${dir}/mr-out-0 … ${dir}/mr-out-9 (10 files; all of it: sort ${dir}/mr-out-*)`
    )
    expect(run.stdout).toMatch(
      /job done in [\d.]+ s: 8 map and 10 reduce tasks, 18 attempts \(0 re-executions, 0 backups, 0 failures\)/
    )
    expect(run.stderr).toContain("reduce phase done: job complete")
    const lines = readdirSync(dir).filter((n) => n.startsWith("mr-out-")).flatMap((n) =>
      readFileSync(join(dir, n), "utf8").split("\n").filter((l) => l !== "")
    )
    expect(lines.sort()).toEqual(expected)
    // Intermediate files are gone.
    expect(readdirSync(dir).filter((n) => !n.startsWith("mr-out-"))).toEqual([])
  })

  scenario("concord mr run restarts a crashed worker; a backup attempt rescues its task", async (s) => {
    const expected = await reference("wc")
    // The first map call crashes its worker. Its task still holds a 10 s lease, but it is the phase's
    // straggler: once the other maps are done, the idle worker runs it again as a backup.
    const app = join(ROOT, "test/mapreduce/support/crashOnce.ts")
    const run = s.start("run", ["mr", "run", "--app", app, "--workers", "2", "--progress", "log", ...INPUTS], { tsx: true })
    expect(await run.exited).toBe(0)
    expect(run.stderr.match(/worker \d exited \(code 1\); restarting it/g)).toHaveLength(1)
    // (On a machine so loaded that the other maps take over 10 s, the lease expires first instead.)
    expect(run.stderr).toMatch(/map task \d \(\S+\): (straggler; backup attempt|worker \d+ did not finish)/)
    expect(run.stdout).toMatch(/19 attempts \(1 re-executions, [01] backups, 0 failures\)/)
    expect(s.output()).toEqual(expected)
  })
})
