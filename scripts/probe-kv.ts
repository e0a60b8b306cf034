/**
 * `npx tsx scripts/probe-kv.ts [--inflight N] [--puts N] [--warm N] [--runs N] [--http] [--max-raft-state B] [--cli PATH]`:
 * a profiling aid, not a benchmark (no reference, no verdict). Starts 3 `concord kv serve` nodes
 * (the bundled CLI, file storage in a temporary directory), warms them with `--warm` puts, then runs
 * `--puts` puts at `--inflight` in flight `--runs` times (binary `KvClient`s on one Tcp transport, or
 * node:http to the leader with `--http`) and prints, per run, puts/s, p50/p99 and each node's CPU per
 * put (utime+stime from /proc), leader first. With `--cli PATH` it runs another build (e.g. one
 * bundled from an older commit) so two builds can be alternated on a quiet machine.
 * CONCORD_BENCH_NODE_ARGS is passed to the servers' `node` (e.g. `--cpu-prof --cpu-prof-dir=DIR`).
 */
import { Effect, Exit, Scope } from "effect"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import { loadavg, tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import * as KvClient from "../src/kv/KvClient.js"
import type { NodeStatus } from "../src/kv/Messages.js"
import * as Tcp from "../src/rpc/Tcp.js"
import { Transport } from "../src/rpc/Transport.js"

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const args = process.argv.slice(2)
const opt = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? Number(args[i + 1]) : fallback
}
const inflight = opt("inflight", 256)
const puts = opt("puts", 20_000)
const warm = opt("warm", 5_000)
const runs = opt("runs", 2)
const useHttp = args.includes("--http")
const mrsAt = args.indexOf("--max-raft-state")
const serveArgs = mrsAt >= 0 ? ["--max-raft-state", args[mrsAt + 1]!] : []
const cliAt = args.indexOf("--cli")
const cli = cliAt >= 0 ? resolve(args[cliAt + 1]!) : join(ROOT, "node_modules/.cache/concord-probe/concord.mjs")
if (cliAt < 0) execFileSync(process.execPath, [join(ROOT, "scripts/bundle-cli.mjs"), cli], { cwd: ROOT, stdio: "inherit" })

const VALUE = "v".repeat(256)
const TCK = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100
const cpu = (pid: number) => {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8")
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ")
  return ((Number(f[11]) + Number(f[12])) * 1e6) / TCK
}
const freePort = () =>
  new Promise<number>((r) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port
      s.close(() => r(p))
    })
  })

const ids = ["n1", "n2", "n3"]
const ports = await Promise.all(ids.map(freePort))
const httpPorts = await Promise.all(ids.map(freePort))
const peers = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${ports[i]}`]))
const dir = mkdtempSync(join(tmpdir(), "concord-probe-"))
const nodeArgs = (process.env.CONCORD_BENCH_NODE_ARGS ?? "").split(" ").filter((a) => a !== "")
const children: Array<ChildProcess> = ids.map((id, i) =>
  spawn(process.execPath, [
    ...nodeArgs, cli, "kv", "serve", "--id", id, "--data", join(dir, id), "--http-port", String(httpPorts[i]),
    "--peers", ids.map((x) => `${x}=${peers[x]}`).join(","), ...serveArgs
  ], { stdio: ["ignore", "pipe", "inherit"] })
)
await Promise.all(children.map((c) => new Promise((r) => c.stdout!.once("data", r))))

const scope = Effect.runSync(Scope.make())
const transport = await Effect.runPromise(Scope.extend(Tcp.make({ self: "probe", peers }), scope))
const client = () => Effect.runSync(KvClient.make({ servers: ids, callTimeout: "5 seconds" }).pipe(Effect.provideService(Transport, transport)))
const probe = client()
let leader = -1
for (let tries = 0; leader < 0 && tries < 100; tries++) {
  const all = await Promise.all(ids.map((id) => Effect.runPromise(probe.status(id)).catch(() => undefined) as Promise<NodeStatus | undefined>))
  leader = all.findIndex((s) => s?.role === "Leader")
  if (leader < 0) await new Promise((r) => setTimeout(r, 100))
}
if (leader < 0) throw new Error("no leader")
const agent = new http.Agent({ keepAlive: true, maxSockets: inflight })
const httpPut = (k: string) =>
  new Promise<void>((ok, fail) => {
    const req = http.request({ agent, host: "127.0.0.1", port: httpPorts[leader], method: "PUT", path: `/v1/kv/${k}` }, (res) => {
      res.resume()
      res.on("end", () => res.statusCode === 200 ? ok() : fail(new Error(`HTTP ${res.statusCode}`)))
    })
    req.on("error", fail)
    req.end(VALUE)
  })
const clients = Array.from({ length: inflight }, client)
const put = (c: KvClient.KvClientShape, k: string) => useHttp ? httpPut(k) : Effect.runPromise(c.put(k, VALUE))

const load = async (count: number, base: number) => {
  let issued = 0
  const lat: Array<number> = []
  await Promise.all(clients.map(async (c) => {
    while (issued < count) {
      const n = issued++
      const t = performance.now()
      await put(c, `k${base + n}`)
      lat.push(performance.now() - t)
    }
  }))
  return lat.sort((a, b) => a - b)
}

await load(warm, 1_000_000)
const order = [leader, ...ids.keys()].filter((x, i, a) => a.indexOf(x) === i)
for (let run = 0; run < runs; run++) {
  const c0 = children.map((c) => cpu(c.pid!))
  const t0 = performance.now()
  const lat = await load(puts, run * puts)
  const s = (performance.now() - t0) / 1000
  const per = children.map((c, i) => (cpu(c.pid!) - c0[i]!) / puts)
  console.log(
    `run ${run + 1}: ${useHttp ? "http" : "binary"} ${inflight} in flight, ${(puts / s).toFixed(0)} puts/s, ` +
      `p50 ${lat[Math.floor(lat.length / 2)]!.toFixed(2)} ms, p99 ${lat[Math.floor(lat.length * 0.99)]!.toFixed(1)} ms; ` +
      `CPU µs/put leader ${order.map((i) => per[i]!.toFixed(0)).join(" / ")} (sum ${per.reduce((a, b) => a + b, 0).toFixed(0)}); ` +
      `load ${loadavg()[0]!.toFixed(2)}`
  )
}
agent.destroy()
await Effect.runPromise(Scope.close(scope, Exit.void))
await Promise.all(children.map((c) => new Promise((r) => (c.once("exit", r), c.kill("SIGTERM")))))
rmSync(dir, { recursive: true, force: true })
