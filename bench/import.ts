/**
 * `npm run bench -- import [--runs 7]`: how long a program waits for `import("concord-dist")` in plain
 * Node, and for each sub-entry point (`concord-dist/kv`, `/check`, `/mapreduce`). Target: the main
 * entry point in ≤ 0.3 s.
 *
 * The library is built first (`tsc -p tsconfig.build.json`, into dist/, as `npm run build` does), and
 * each import runs in a fresh Node process in this directory, by the package's own name (Node resolves
 * it through package.json `exports`, as for an installed package). The time is from just before the
 * `import()` to when it resolves, so Node's own start-up is not in it. Reference, in the same run:
 * `import("effect")`, which every entry point loads (its index loads every Effect module), the floor
 * under any of them. Median of `--runs` processes each.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const TARGET_MS = 300

const timeImport = (specifier: string): number => {
  const script = `const t = performance.now(); await import(${JSON.stringify(specifier)}); console.log(performance.now() - t)`
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: ROOT, encoding: "utf8", timeout: 60_000 })
  if (r.status !== 0) throw new Error(`import(${specifier}) failed: ${r.stderr}`)
  return Number(r.stdout.trim())
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

export const run = async (args: ReadonlyArray<string>) => {
  const at = args.indexOf("--runs")
  const runs = at >= 0 ? Number(args[at + 1]) : 7
  execFileSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], { cwd: ROOT })
  const specifiers = ["effect", "concord-dist", "concord-dist/kv", "concord-dist/check", "concord-dist/mapreduce"]
  // Interleaved, so that a burst of load on a shared machine hits every specifier alike.
  const times = new Map<string, Array<number>>(specifiers.map((s) => [s, []]))
  for (let i = 0; i < runs; i++) for (const s of specifiers) times.get(s)!.push(timeImport(s))
  const floor = median(times.get("effect")!)
  console.log(`import() in a fresh node ${process.version} process, median of ${runs} (ms)`)
  console.log(`${"specifier".padEnd(24)} ${"ms".padStart(6)} ${"min".padStart(6)} ${"vs effect".padStart(10)}`)
  for (const s of specifiers) {
    const xs = times.get(s)!
    const ms = median(xs)
    console.log(`${s.padEnd(24)} ${ms.toFixed(0).padStart(6)} ${Math.min(...xs).toFixed(0).padStart(6)} ${(ms / floor).toFixed(2).padStart(9)}×`)
  }
  const main = median(times.get("concord-dist")!)
  console.log(`target: import("concord-dist") ≤ ${TARGET_MS} ms: ${main <= TARGET_MS ? "met" : "missed"} (${main.toFixed(0)} ms)`)
}
