/**
 * What the process benchmarks share: server child processes (the shipped bundle), free ports,
 * latency percentiles, closed-loop load, clean-up on exit. (Files starting with "_" are not benchmarks.)
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..")

const live = new Set<ChildProcess>()
const temp = new Set<string>()
const cleanUp = () => {
  for (const c of live) c.kill("SIGKILL")
  live.clear()
  for (const d of temp) rmSync(d, { recursive: true, force: true, maxRetries: 3 })
  temp.clear()
}
process.once("exit", cleanUp)
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    cleanUp()
    process.exit(130)
  })
}

/** A temporary directory, removed when the benchmark process exits. */
export const tempDir = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix))
  temp.add(d)
  return d
}

/** Bundles the CLI as it ships (esbuild) into `dir`; returns the bundle's path. */
export const bundle = (dir: string) => {
  const out = join(dir, "concord.mjs")
  execFileSync(process.execPath, [join(ROOT, "scripts/bundle-cli.mjs"), out], { cwd: ROOT })
  return out
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** A `concord …` server process; `ready` resolves with its first stdout line (its listening line). */
export const startServer = (cli: string, name: string, args: ReadonlyArray<string>) => {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ["ignore", "pipe", "pipe"] })
  live.add(child)
  let tail = ""
  child.stderr!.on("data", (d: Buffer) => (tail = (tail + d.toString()).slice(-2000)))
  const exited = new Promise<void>((r) => child.once("exit", () => (live.delete(child), r())))
  const ready = new Promise<string>((res, rej) => {
    let out = ""
    const timer = setTimeout(() => rej(new Error(`${name} did not start in 30 s: ${tail}`)), 30_000)
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString()
      const nl = out.indexOf("\n")
      if (nl >= 0) {
        clearTimeout(timer)
        res(out.slice(0, nl))
      }
    })
    void exited.then(() => rej(new Error(`${name} exited: ${tail}`)))
  })
  return { name, child, ready, exited, kill9: () => (child.kill("SIGKILL"), exited) }
}

/** `n` distinct free loopback ports. */
export const freePorts = async (n: number) => {
  const servers = await Promise.all(Array.from({ length: n }, () =>
    new Promise<net.Server>((res, rej) => {
      const s = net.createServer()
      s.once("error", rej)
      s.listen(0, "127.0.0.1", () => res(s))
    })))
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port)
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  return ports
}

/** Latency percentiles (ms) of a sample. */
export const percentiles = (samples: ReadonlyArray<number>) => {
  const sorted = Float64Array.from(samples).sort()
  const at = (q: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!)
  return { n: sorted.length, p50: at(0.5), p99: at(0.99), p999: at(0.999) }
}

/**
 * `inFlight` loops, each running `op(loop, n)` back to back for `ms`; the latencies (ms) of the
 * operations that started in the window, and the throughput.
 */
export const closedLoop = async (inFlight: number, ms: number, op: (loop: number, n: number) => Promise<unknown>) => {
  const latencies: Array<number> = []
  const end = performance.now() + ms
  const t0 = performance.now()
  await Promise.all(Array.from({ length: inFlight }, async (_, loop) => {
    for (let n = 0; performance.now() < end; n++) {
      const start = performance.now()
      await op(loop, n)
      latencies.push(performance.now() - start)
    }
  }))
  return { ...percentiles(latencies), opsPerSec: latencies.length / ((performance.now() - t0) / 1000) }
}
