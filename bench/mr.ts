/**
 * `npm run bench -- mr [--reps N] [--scale N]`: word count, MapReduce against hand-written baselines.
 *
 * Corpora: the 8 books (3.3 MB), and the books repeated `scale` times (default 50: ~165 MB) in 25
 * files, generated in a temporary directory and deleted afterwards.
 *
 * Runners, each a fresh process, timed from spawn to exit (best of `reps`, default 3):
 *   single    plain Node word count in one process (read, count into a Map, sort, write)
 *   threads2  the same with 2 worker_threads, each counting half of the files, merged in the main thread
 *   mr1, mr2  `concord mr run --app wc --workers 1|2` (the bundled CLI that ships: a coordinator plus worker processes)
 * The baselines use the same counting loop as the wc app (a char-code scan into a Map), so the ratios
 * measure what the framework costs, not a different algorithm. For the MapReduce runs the job time
 * (first task request to last report, as the coordinator reports it) is shown as well: the difference
 * to the end-to-end time is process start-up (Node loading the bundled CLI, ~0.2 s per process; ~0.7 s
 * unbundled, which is why `concord` ships as one esbuild bundle). Every run's output is checked against
 * the single-process one. The CLI is bundled into node_modules/.cache/concord-bench first, exactly as
 * `npm run build` bundles dist/concord.mjs.
 */
import { execFileSync, spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..")
// Next to the repository, wherever it is cloned.
const BOOKS_DIR = resolve(ROOT, "../shared/data/gutenberg")
const BUILD = join(ROOT, "node_modules/.cache/concord-bench")

// The baselines, as standalone scripts (plain JavaScript, no dependency).
const COUNT = `
export const countWords = (text, counts) => {
  const n = text.length
  let i = 0
  while (i < n) {
    let c = text.charCodeAt(i)
    if (((c | 32) - 97) >>> 0 >= 26) { i++; continue }
    const start = i
    do { i++; c = text.charCodeAt(i) } while (i < n && ((c | 32) - 97) >>> 0 < 26)
    const w = text.slice(start, i)
    counts.set(w, (counts.get(w) ?? 0) + 1)
  }
}
export const writeOutput = (counts, path, fs) => {
  const keys = [...counts.keys()].sort()
  fs.writeFileSync(path, keys.map((k) => k + " " + counts.get(k) + "\\n").join(""))
}
`
const SINGLE = `
import * as fs from "node:fs"
import { countWords, writeOutput } from "./count.mjs"
const [out, ...files] = process.argv.slice(2)
const counts = new Map()
for (const f of files) countWords(fs.readFileSync(f, "utf8"), counts)
writeOutput(counts, out, fs)
`
const THREADS = `
import * as fs from "node:fs"
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads"
import { countWords, writeOutput } from "./count.mjs"
if (isMainThread) {
  const [threads, out, ...files] = process.argv.slice(2)
  const n = Number(threads)
  // Deal the files out by size, largest first, to the least loaded thread.
  const sized = files.map((f) => [f, fs.statSync(f).size]).sort((a, b) => b[1] - a[1])
  const shares = Array.from({ length: n }, () => ({ files: [], bytes: 0 }))
  for (const [f, size] of sized) {
    const s = shares.reduce((a, b) => (b.bytes < a.bytes ? b : a))
    s.files.push(f)
    s.bytes += size
  }
  const parts = await Promise.all(shares.map((s) => new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: s.files })
    w.once("message", resolve)
    w.once("error", reject)
  })))
  const counts = new Map()
  for (const [words, ns] of parts) {
    for (let i = 0; i < words.length; i++) counts.set(words[i], (counts.get(words[i]) ?? 0) + ns[i])
  }
  writeOutput(counts, out, fs)
} else {
  const counts = new Map()
  for (const f of workerData) countWords(fs.readFileSync(f, "utf8"), counts)
  parentPort.postMessage([[...counts.keys()], [...counts.values()]])
}
`

interface Runner {
  readonly name: string
  readonly go: (i: number) => Promise<Result>
  readonly outputs: (i: number) => ReadonlyArray<string>
}

interface Result {
  readonly ms: number
  readonly jobMs?: number
}

const timed = (cmd: string, args: ReadonlyArray<string>, cwd: string) =>
  new Promise<Result & { stdout: string }>((resolve, reject) => {
    const start = performance.now()
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "inherit"] })
    let stdout = ""
    child.stdout.on("data", (d: Buffer) => void (stdout += d.toString()))
    child.on("exit", (code) => {
      const ms = performance.now() - start
      if (code !== 0) return reject(new Error(`${cmd} ${args.slice(0, 4).join(" ")} … exited with ${code}`))
      const m = /job done in ([\d.]+) s/.exec(stdout)
      resolve({ ms, stdout, ...(m ? { jobMs: Number(m[1]) * 1000 } : {}) })
    })
  })

const sortedLines = (paths: ReadonlyArray<string>) =>
  paths.flatMap((p) => readFileSync(p, "utf8").split("\n").filter((l) => l !== "")).sort()

const outputsOf = (dir: string) => readdirSync(dir).filter((n) => n.startsWith("mr-out-")).map((n) => join(dir, n))

export async function run(args: ReadonlyArray<string>) {
  const opt = (name: string, fallback: number) => {
    const i = args.indexOf(`--${name}`)
    return i >= 0 ? Number(args[i + 1]) : fallback
  }
  const reps = opt("reps", 3)
  const scale = opt("scale", 50)
  const work = mkdtempSync(join(tmpdir(), "concord-bench-mr-"))
  try {
    // Measure what ships: the bundled CLI (scripts/bundle-cli.mjs, as `npm run build` makes it).
    console.log("bundling the CLI…")
    const cli = join(BUILD, "concord.mjs")
    execFileSync(process.execPath, [join(ROOT, "scripts/bundle-cli.mjs"), cli], { cwd: ROOT, stdio: "inherit" })
    writeFileSync(join(work, "count.mjs"), COUNT)
    writeFileSync(join(work, "single.mjs"), SINGLE)
    writeFileSync(join(work, "threads.mjs"), THREADS)
    const books = readdirSync(BOOKS_DIR)
      .filter((f) => f.startsWith("pg-") && f.endsWith(".txt"))
      .sort()
      .map((f) => join(BOOKS_DIR, f))
    const all = Buffer.concat(books.map((b) => readFileSync(b)))
    const bigDir = join(work, "big")
    mkdirSync(bigDir)
    const nFiles = 25
    const big: Array<string> = []
    for (let i = 0; i < nFiles; i++) {
      const copies = Math.round((scale * (i + 1)) / nFiles) - Math.round((scale * i) / nFiles)
      const path = join(bigDir, `part-${String(i).padStart(2, "0")}.txt`)
      writeFileSync(path, Buffer.concat(Array.from({ length: copies }, () => all)))
      big.push(path)
    }
    const corpora = [
      { name: "8 books", files: books, bytes: all.length },
      { name: `books x${scale}`, files: big, bytes: all.length * scale }
    ]
    for (const corpus of corpora) {
      const size = `${(corpus.bytes / 1e6).toFixed(1)} MB`
      console.log(`\n${corpus.name}: ${corpus.files.length} files, ${size}; best of ${reps} runs`)
      const node = (script: string, ...args: ReadonlyArray<string>) =>
        timed(process.execPath, [join(work, script), ...args, ...corpus.files], work)
      const runners: ReadonlyArray<Runner> = [
        {
          name: "single process",
          go: (i) => node("single.mjs", join(work, `single-${i}.txt`)),
          outputs: (i) => [join(work, `single-${i}.txt`)]
        },
        {
          name: "2 worker_threads",
          go: (i) => node("threads.mjs", "2", join(work, `threads-${i}.txt`)),
          outputs: (i) => [join(work, `threads-${i}.txt`)]
        },
        ...[1, 2].map((w, k) => ({
          name: `mr run, ${w} worker${w > 1 ? "s" : ""}`,
          go: (i: number) => {
            const dir = join(work, `mr${k}-${i}`)
            const args = ["mr", "run", "--app", "wc", "--workers", String(w), "--progress", "none", "--dir", dir]
            return timed(process.execPath, [cli, ...args, ...corpus.files], work)
          },
          outputs: (i: number) => outputsOf(join(work, `mr${k}-${i}`))
        }))
      ]
      const best = new Map<string, Result>()
      let reference: ReadonlyArray<string> | undefined
      for (let i = 0; i < reps; i++) {
        for (const r of runners) {
          const result = await r.go(i)
          const lines = sortedLines(r.outputs(i))
          reference ??= lines
          if (lines.length !== reference.length || lines.some((l, k) => l !== reference![k])) {
            throw new Error(`${r.name}: output differs from the single-process word count`)
          }
          const prev = best.get(r.name)
          if (prev === undefined || result.ms < prev.ms) best.set(r.name, result)
        }
      }
      const single = best.get("single process")!.ms
      const threads = best.get("2 worker_threads")!.ms
      const mbs = (ms: number) => corpus.bytes / 1e6 / (ms / 1000)
      console.log(
        `${"runner".padEnd(28)} ${"wall s".padStart(7)} ${"MB/s".padStart(7)} ${"vs single".padStart(10)} ` +
          `${"vs 2 threads".padStart(13)}   job s (MB/s, vs 2 threads)`
      )
      for (const r of runners) {
        const b = best.get(r.name)!
        const job = b.jobMs === undefined
          ? ""
          : `   ${(b.jobMs / 1000).toFixed(2)} (${mbs(b.jobMs).toFixed(1)}, ${(threads / b.jobMs).toFixed(2)}x)`
        console.log(
          `${r.name.padEnd(28)} ${(b.ms / 1000).toFixed(2).padStart(7)} ${mbs(b.ms).toFixed(1).padStart(7)} ` +
            `${(single / b.ms).toFixed(2).padStart(9)}x ${(threads / b.ms).toFixed(2).padStart(12)}x${job}`
        )
      }
    }
    console.log(
      "\nratios are speed relative to the baseline (>1 = faster); the job column excludes process start-up." +
        "\ntargets: 2 workers >= 0.7x the 2-thread count on the large corpus; the 8 books end to end < 2 s."
    )
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}
