/**
 * `npm run sweep -- <test file or name>... [--seeds N] [--base B] [--jobs J]`
 *
 * Runs the matching simulation tests (those written with `simTest`) over N consecutive seeds starting
 * at B (default 1), split across J vitest processes (default: 2, one per core). Prints, per test, the
 * seeds run, the failing seeds with the command that replays each, and the simulated-seconds per
 * wall-second rate. Exits 1 if any seed failed.
 *
 * An argument that names an existing file or directory (or ends in .ts), or a suite under test/
 * ("raft", "kv", "shardctrler", "shardkv"), selects files; any other argument is a test-name pattern
 * (vitest -t).
 */
import { spawn } from "node:child_process"
import type { SweepReport as Row } from "../test/support/simTest.js"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"


const usage = "usage: npm run sweep -- <test file or name>... [--seeds N] [--base B] [--jobs J]"

const parseArgs = (argv: ReadonlyArray<string>) => {
  const files: Array<string> = []
  const names: Array<string> = []
  let seeds = 20
  let base = 1
  let jobs = 2
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const num = (flag: string) => {
      const v = Number(argv[++i])
      if (!Number.isSafeInteger(v) || v < 1) throw new Error(`${flag} needs a positive integer\n${usage}`)
      return v
    }
    if (a === "--seeds") seeds = num(a)
    else if (a === "--base") base = num(a)
    else if (a === "--jobs") jobs = num(a)
    else if (a === "--help" || a === "-h") {
      console.log(usage)
      process.exit(0)
    } else if (a.startsWith("--")) throw new Error(`unknown flag ${a}\n${usage}`)
    else if (a.endsWith(".ts") || existsSync(a)) files.push(a)
    else if (existsSync(join("test", a))) files.push(join("test", a)) // a suite by name: "shardctrler", "kv"
    else names.push(a)
  }
  return { files, names, seeds, base, jobs: Math.min(jobs, seeds) }
}

const runChunk = (files: ReadonlyArray<string>, names: ReadonlyArray<string>, count: number, base: number, report: string) =>
  new Promise<number>((resolve) => {
    // Each chunk is its own process with one vitest worker, so J chunks keep J cores busy (vitest 3
    // reads no environment variable for this; vitest.config's maxWorkers would give each chunk two).
    const args = ["vitest", "run", ...files, "--reporter=dot", "--maxWorkers=1", "--minWorkers=1"]
    if (names.length > 0) args.push("-t", names.join("|"))
    const child = spawn("npx", args, {
      stdio: ["ignore", "inherit", "inherit"],
      env: {
        ...process.env,
        CONCORD_SWEEP: String(count),
        CONCORD_SWEEP_BASE: String(base),
        CONCORD_SWEEP_REPORT: report
      }
    })
    child.on("exit", (code) => resolve(code ?? 1))
  })

const main = async () => {
  const { files, names, seeds, base, jobs } = parseArgs(process.argv.slice(2))
  const dir = mkdtempSync(join(tmpdir(), "concord-sweep-"))
  const started = performance.now()
  try {
    const per = Math.ceil(seeds / jobs)
    const chunks = Array.from({ length: jobs }, (_, j) => ({
      base: base + j * per,
      count: Math.max(0, Math.min(per, seeds - j * per)),
      report: join(dir, `report-${j}.jsonl`)
    })).filter((c) => c.count > 0)
    await Promise.all(chunks.map((c) => runChunk(files, names, c.count, c.base, c.report)))
    const rows = new Map<string, Row>()
    for (const c of chunks) {
      if (!existsSync(c.report)) continue
      for (const line of readFileSync(c.report, "utf8").split("\n").filter((l) => l.length > 0)) {
        const r = JSON.parse(line) as Row
        const key = `${r.file}\u0000${r.name}`
        const prev = rows.get(key)
        rows.set(key, prev === undefined ? r : {
          ...prev,
          seeds: prev.seeds + r.seeds,
          failures: [...prev.failures, ...r.failures],
          simulatedMs: prev.simulatedMs + r.simulatedMs,
          wallMs: prev.wallMs + r.wallMs
        })
      }
    }
    if (rows.size === 0) {
      console.error("no simulation test matched (sweeps run tests written with simTest)")
      process.exit(1)
    }
    const wall = (performance.now() - started) / 1000
    let failed = 0
    let sim = 0
    let busy = 0
    console.log(`\nsweep: ${seeds} seeds from ${base}, ${chunks.length} processes, ${wall.toFixed(1)} s wall\n`)
    console.log(`${"test".padEnd(64)} ${"seeds".padStart(5)} ${"fail".padStart(4)} ${"sim s".padStart(9)} ${"wall s".padStart(7)} ${"rate".padStart(7)}`)
    for (const r of [...rows.values()].sort((a, b) => a.file.localeCompare(b.file) || a.name.localeCompare(b.name))) {
      failed += r.failures.length
      sim += r.simulatedMs
      busy += r.wallMs
      console.log(
        `${r.name.slice(0, 64).padEnd(64)} ${String(r.seeds).padStart(5)} ${String(r.failures.length).padStart(4)} ` +
          `${(r.simulatedMs / 1000).toFixed(1).padStart(9)} ${(r.wallMs / 1000).toFixed(1).padStart(7)} ` +
          `${(r.simulatedMs / Math.max(1, r.wallMs)).toFixed(0).padStart(6)}x`
      )
      for (const seed of r.failures) {
        console.log(`    FAILED seed ${seed}: SEED=${seed} npx vitest run ${r.file.replace(process.cwd() + "/", "")} -t "${r.name}"`)
      }
    }
    console.log(
      `\ntotal: ${rows.size} tests, ${failed} failing runs; ${(sim / 1000).toFixed(0)} simulated s in ${(busy / 1000).toFixed(1)} ` +
        `s of simulation (${(sim / Math.max(1, busy)).toFixed(0)} simulated s per wall s)`
    )
    process.exitCode = failed > 0 ? 1 : 0
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : String(e))
  process.exit(2)
})
