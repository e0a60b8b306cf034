/**
 * `npm run bench -- kv [--seconds N] [--failovers N] [--no-etcd] [--tls]`: the key/value service against etcd.
 *
 * With `--tls`: the cost of security instead. The same rows, (a)-(d), for the Concord cluster over
 * plain TCP and for one with mutual TLS between its nodes and TLS from the load generator
 * (certificates from `concord certs create`'s code), in one run, with the ratio TLS/TCP; no etcd.
 *
 * Starts a 3-node Concord cluster (the bundled CLI that ships, `concord kv serve`, as child processes:
 * loopback TCP, file storage in a temporary directory) and, if an `etcd` binary is on PATH, a 3-member
 * etcd on loopback (temporary data dirs, etcd's defaults otherwise: it fsyncs every batch like we
 * do). Both are driven by the same load generator, this one Node process:
 *   (a) 1 client, 1000 sequential puts (key 8 B, value 256 B): ops/s, p50, p99;
 *   (b) 64 and 256 puts in flight for `seconds` (default 8) each, after a 1 s warm-up: ops/s, p50,
 *       p99, and server CPU per put (all server processes together: utime+stime from /proc/<pid>/stat
 *       over the measured window, divided by the puts);
 *   (c) linearizable gets, 64 in flight, over the keys written in (a);
 *   (d) failover: a writer loop runs, the leader gets `kill -9`; the time from the kill until the
 *       first acknowledged write that was issued after the kill. Repeated `failovers` times (default
 *       3); the killed member is restarted and caught up between runs.
 * Concord's clients are `KvClient`s (one operation at a time each: N in flight = N clients sharing
 * one Tcp transport). etcd's is the `etcd3` npm client (gRPC), one client with N concurrent calls;
 * for (a)-(c) it connects to the leader only, as a `KvClient` ends up doing (no forwarding hop: the
 * setting most favourable to etcd), gets are its default (linearizable). In (d) both writers know
 * all three members, give each call 250 ms and retry elsewhere until a write succeeds (etcd3's own
 * retry policies are off there: see `noPolicy`).
 * Printed: a table of both, ratios Concord/etcd, and whether the targets of issue 7 are met. The
 * generator's own CPU per operation is shown too: it shares the machine's cores with the servers.
 *
 * Profiling: CONCORD_BENCH_NODE_ARGS is passed to the Concord servers' `node`, e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` (a profile is written when its server stops: at the end, not
 * for a leader killed in (d)). CONCORD_BENCH_VERBOSE=1 echoes the servers' output.
 */
import { type Duration, Effect, Exit, Scope } from "effect"
import { Etcd3, type IOptions } from "etcd3"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import * as net from "node:net"
import { cpus, loadavg, tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import * as Certs from "../src/cli/internal/certs.js"
import * as KvClient from "../src/kv/KvClient.js"
import type { NodeStatus } from "../src/kv/Messages.js"
import * as Tcp from "../src/rpc/Tcp.js"
import { Transport } from "../src/rpc/Transport.js"

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const BUILD = join(ROOT, "node_modules/.cache/concord-bench")
const SEQUENTIAL_PUTS = 1000
const WARMUP_MS = 1000
const GETS_MS = 5000
const FAILOVER_CALL_MS = 250
const KEYSPACE = 100_000
const VALUE = Array.from({ length: 256 }, (_, i) => String.fromCharCode(97 + ((i * 7) % 26))).join("")
const key = (n: number) => `k${String(n % KEYSPACE).padStart(7, "0")}` // 8 bytes

// -- processes -----------------------------------------------------------------------------------------

/** A server child process, its output drained into a short tail (for error messages). */
class Server {
  child: ChildProcess
  tail: Array<string> = []
  exited: number | string | null = null
  private readonly firstLine: Promise<string>
  /** Rejects when the process exits. */
  readonly died: Promise<never>

  constructor(readonly name: string, readonly cmd: string, readonly args: ReadonlyArray<string>, readonly env: NodeJS.ProcessEnv) {
    this.child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env })
    live.add(this)
    const keep = (d: Buffer) => {
      this.tail.push(...d.toString().split("\n").filter((l) => l.trim() !== ""))
      if (this.tail.length > 20) this.tail.splice(0, this.tail.length - 20)
    }
    this.died = new Promise((_, reject) => {
      this.child.on("exit", (code, signal) => {
        this.exited = code ?? signal
        live.delete(this)
        reject(new Error(`${this.name} exited (${this.exited}):\n  ${this.tail.join("\n  ")}`))
      })
      this.child.on("error", (e) => reject(new Error(`${this.name}: ${e.message}`)))
    })
    this.died.catch(() => undefined)
    let out = ""
    const line = new Promise<string>((resolve) => {
      const onData = (d: Buffer) => {
        out += d.toString()
        const nl = out.indexOf("\n")
        if (nl >= 0) {
          this.child.stdout!.off("data", onData)
          resolve(out.slice(0, nl))
        }
      }
      this.child.stdout!.on("data", onData)
    })
    this.firstLine = Promise.race([line, this.died])
    this.firstLine.catch(() => undefined)
    this.child.stdout!.on("data", keep)
    this.child.stderr!.on("data", keep)
    if (process.env.CONCORD_BENCH_VERBOSE) {
      const echo = (d: Buffer) => {
        for (const l of d.toString().split("\n")) if (l.trim() !== "") console.error(`    [${name}] ${l}`)
      }
      this.child.stdout!.on("data", echo)
      this.child.stderr!.on("data", echo)
    }
  }

  get pid() {
    return this.child.pid!
  }

  ready(ms: number): Promise<string> {
    return withTimeout(this.firstLine, ms, `${this.name} did not print its address within ${ms} ms`)
  }

  kill9() {
    this.child.kill("SIGKILL")
    return this.waitExit(5000)
  }

  /** SIGTERM, then SIGKILL after `ms`. */
  async stop(ms = 5000) {
    if (this.exited !== null) return
    this.child.kill("SIGTERM")
    try {
      await this.waitExit(ms)
    } catch {
      await this.kill9()
    }
  }

  waitExit(ms: number) {
    if (this.exited !== null) return Promise.resolve()
    return withTimeout(new Promise<void>((r) => this.child.once("exit", () => r())), ms, `${this.name} did not exit within ${ms} ms`)
  }
}

// Every child still running and every temporary directory, for the exit and signal handlers.
const live = new Set<Server>()
const tempDirs = new Set<string>()
const killAll = () => {
  for (const s of live) s.child.kill("SIGKILL")
  live.clear()
}
const removeTemp = () => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true, maxRetries: 3 })
  tempDirs.clear()
}
const onExit = () => {
  killAll()
  removeTemp()
}
const onSignal = (signal: NodeJS.Signals) => {
  console.error(`\n${signal}: stopping the clusters`)
  onExit()
  process.exit(130)
}

const withTimeout = <A>(p: Promise<A>, ms: number, message: string): Promise<A> => {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms)
    })
  ]).finally(() => clearTimeout(timer))
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Polls `check` until it returns a value (not undefined), for at most `ms`. */
const until = async <A>(ms: number, what: string, check: () => Promise<A | undefined>): Promise<A> => {
  const deadline = performance.now() + ms
  let last: unknown = undefined
  while (performance.now() < deadline) {
    try {
      const a = await check()
      if (a !== undefined) return a
    } catch (e) {
      last = e
    }
    await sleep(50)
  }
  throw new Error(`${what} within ${ms} ms${last === undefined ? "" : ` (last error: ${String(last)})`}`)
}

/** `n` distinct free loopback ports (bound to port 0 together, then released). */
const freePorts = async (n: number) => {
  const servers = await Promise.all(Array.from({ length: n }, () =>
    new Promise<net.Server>((resolve, reject) => {
      const s = net.createServer()
      s.once("error", reject)
      s.listen(0, "127.0.0.1", () => resolve(s))
    })))
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port)
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  return ports
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100
  } catch {
    return 100
  }
})()

/** utime + stime of a process, in µs (from /proc/<pid>/stat). */
const cpuMicros = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLK_TCK
}

// -- the systems under test --------------------------------------------------------------------------

/** A client that has one operation in flight at a time. */
interface Client {
  readonly put: (key: string, value: string) => Promise<void>
  readonly get: (key: string) => Promise<string>
}

interface System {
  readonly name: string
  readonly version: string
  readonly pids: () => ReadonlyArray<number>
  /** `n` clients for the load phases. */
  readonly clients: (n: number) => Promise<ReadonlyArray<Client>>
  /** A writer for the failover phase: knows all members, gives each call FAILOVER_CALL_MS. */
  readonly failoverClient: () => Promise<Client>
  /** Which member leads (index), waiting up to `ms` for one. */
  readonly leader: (ms: number) => Promise<number>
  readonly kill9: (member: number) => Promise<void>
  /** Starts the member again on its data and waits until it has caught up with the leader. */
  readonly restart: (member: number) => Promise<void>
  readonly stop: () => Promise<void>
}

const startConcord = async (cli: string, dir: string, certs?: Certs.Created): Promise<System> => {
  const ids = ["n1", "n2", "n3"]
  const ports = await freePorts(3)
  const peers = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${ports[i]}`]))
  const peersFlag = ids.map((id) => `${id}=${peers[id]}`).join(",")
  const nodeArgs = (process.env.CONCORD_BENCH_NODE_ARGS ?? "").split(" ").filter((a) => a !== "")
  const spawnNode = (i: number) =>
    new Server(`concord ${ids[i]}`, process.execPath, [
      ...nodeArgs,
      cli, "kv", "serve", "--id", ids[i]!, "--peers", peersFlag, "--data", join(dir, ids[i]!), "--no-http",
      ...(certs === undefined ? [] : ["--tls-cert", certs.nodes[ids[i]!]!.cert, "--tls-key", certs.nodes[ids[i]!]!.key, "--tls-ca", certs.ca])
    ], process.env)
  const nodes = ids.map((_, i) => spawnNode(i))
  await Promise.all(nodes.map((n) => n.ready(10_000)))

  const scope = Effect.runSync(Scope.make())
  const tls = certs === undefined ? {} : { tls: { ca: readFileSync(certs.ca, "utf8") } }
  const transport = await Effect.runPromise(Scope.extend(Tcp.make({ self: "bench", peers, ...tls }), scope))
  const makeClient = (callTimeout: Duration.DurationInput) =>
    Effect.runSync(KvClient.make({ servers: ids, callTimeout }).pipe(Effect.provideService(Transport, transport)))
  const toClient = (c: KvClient.KvClientShape): Client => ({
    put: (k, v) => Effect.runPromise(c.put(k, v)),
    get: (k) => Effect.runPromise(c.get(k))
  })
  const probe = makeClient("500 millis")
  const status = (i: number) => Effect.runPromise(probe.status(ids[i]!)) as Promise<NodeStatus>
  const leader = (ms: number) =>
    until(ms, "no Concord leader elected", async () => {
      const all = await Promise.all(ids.map((_, i) => nodes[i]!.exited === null ? status(i).catch(() => undefined) : undefined))
      const i = all.findIndex((s) => s?.role === "Leader")
      return i >= 0 ? i : undefined
    })
  await leader(10_000)
  const version = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version as string

  return {
    name: certs === undefined ? "Concord" : "Concord (TLS)",
    version,
    pids: () => nodes.map((n) => n.pid),
    clients: async (n) => Array.from({ length: n }, () => toClient(makeClient("5 seconds"))),
    failoverClient: async () => toClient(makeClient(`${FAILOVER_CALL_MS} millis`)),
    leader,
    kill9: (i) => nodes[i]!.kill9(),
    restart: async (i) => {
      const l = await leader(10_000)
      const target = (await status(l)).commit
      nodes[i] = spawnNode(i)
      await nodes[i]!.ready(10_000)
      await until(10_000, `restarted ${ids[i]} did not catch up`, async () => (await status(i)).applied >= target ? true : undefined)
    },
    stop: async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      await Promise.all(nodes.map((n) => n.stop()))
    }
  }
}

/**
 * A fault-handling policy that runs the call once. The etcd3 client's default opens a per-host circuit
 * breaker for 5 s after 3 consecutive failures; during an election every member fails a few calls, so
 * the client would stop calling for 5 s: a client artefact, not etcd's failover. The failover writer
 * uses this instead and retries itself, at a random member each time (the client picks one per call).
 */
type Policy = NonNullable<NonNullable<IOptions["faultHandling"]>["global"]>
const noPolicy = {
  execute: <T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T) =>
    Promise.resolve(fn({ signal: new AbortController().signal }))
} as unknown as Policy

const startEtcd = async (dir: string): Promise<System> => {
  const names = ["e1", "e2", "e3"]
  const ports = await freePorts(6)
  const clientUrl = (i: number) => `http://127.0.0.1:${ports[i]}`
  const peerUrl = (i: number) => `http://127.0.0.1:${ports[3 + i]}`
  const initialCluster = names.map((n, i) => `${n}=${peerUrl(i)}`).join(",")
  const token = `concord-bench-${process.pid}-${Date.now()}`
  const spawnMember = (i: number) =>
    new Server(`etcd ${names[i]}`, "etcd", [
      "--name", names[i]!, "--data-dir", join(dir, names[i]!),
      "--listen-client-urls", clientUrl(i), "--advertise-client-urls", clientUrl(i),
      "--listen-peer-urls", peerUrl(i), "--initial-advertise-peer-urls", peerUrl(i),
      "--initial-cluster", initialCluster, "--initial-cluster-state", "new", "--initial-cluster-token", token
    ], process.env)
  const members = names.map((_, i) => spawnMember(i))
  const opened: Array<Etcd3> = []
  const open = (hosts: Array<string>, callMs?: number, retryItself = false) => {
    const c = new Etcd3({
      hosts,
      dialTimeout: 2000,
      ...(callMs === undefined ? {} : { defaultCallOptions: () => ({ deadline: Date.now() + callMs }) }),
      ...(retryItself ? { faultHandling: { host: () => noPolicy, global: noPolicy } } : {})
    })
    opened.push(c)
    return c
  }
  const probes = names.map((_, i) => open([clientUrl(i)], 500))
  const status = (i: number) => probes[i]!.maintenance.status()
  const leader = (ms: number) =>
    until(ms, "no etcd leader elected", async () => {
      const all = await Promise.all(names.map((_, i) => members[i]!.exited === null ? status(i).catch(() => undefined) : undefined))
      const i = all.findIndex((s) => s !== undefined && s.leader !== "0" && s.leader === s.header.member_id)
      return i >= 0 ? i : undefined
    })
  const first = await Promise.race([leader(15_000), ...members.map((m) => m.died)])
  const version = (await status(first)).version
  const toClient = (c: Etcd3): Client => ({
    put: async (k, v) => void (await c.put(k).value(v)),
    get: async (k) => (await c.get(k).string()) ?? ""
  })
  return {
    name: "etcd",
    version,
    pids: () => members.map((m) => m.child.pid!),
    clients: async (n) => {
      const c = toClient(open([clientUrl(await leader(10_000))]))
      return Array.from({ length: n }, () => c)
    },
    failoverClient: async () => toClient(open(names.map((_, i) => clientUrl(i)), FAILOVER_CALL_MS, true)),
    leader,
    kill9: (i) => members[i]!.kill9(),
    restart: async (i) => {
      const l = await leader(10_000)
      const target = (await status(l)).raftIndex
      members[i] = spawnMember(i)
      await until(15_000, `restarted etcd ${names[i]} did not catch up`, async () =>
        Number((await status(i)).raftAppliedIndex) >= Number(target) ? true : undefined)
    },
    stop: async () => {
      for (const c of opened) c.close()
      await Promise.all(members.map((m) => m.stop()))
    }
  }
}

// -- the load generator --------------------------------------------------------------------------------

interface Load {
  readonly ops: number
  readonly perSecond: number
  readonly p50: number
  readonly p99: number
  /** Server CPU (all members) per operation, µs. */
  readonly serverCpu: number
  /** This process's CPU per operation, µs. */
  readonly clientCpu: number
}

const percentile = (sorted: Float64Array, q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!

/** Runs `op` in a loop on every client until `ms` have passed (or `count` ops, for one client). */
const closedLoop = async (
  system: System,
  clients: ReadonlyArray<Client>,
  op: (c: Client, n: number) => Promise<unknown>,
  limit: { ms: number } | { count: number }
): Promise<Load> => {
  const latencies: Array<number> = []
  const pids = system.pids()
  const cpu0 = pids.map(cpuMicros)
  const own0 = process.cpuUsage()
  const start = performance.now()
  const end = "ms" in limit ? start + limit.ms : Infinity
  let issued = 0
  await Promise.all(clients.map(async (c) => {
    while ("ms" in limit ? performance.now() < end : issued < limit.count) {
      const n = issued++
      const t = performance.now()
      await op(c, n)
      latencies.push(performance.now() - t)
    }
  }))
  const seconds = (performance.now() - start) / 1000
  const own = process.cpuUsage(own0)
  const serverCpu = pids.map(cpuMicros).reduce((a, b, i) => a + b - cpu0[i]!, 0)
  const sorted = Float64Array.from(latencies).sort()
  return {
    ops: latencies.length,
    perSecond: latencies.length / seconds,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    serverCpu: serverCpu / latencies.length,
    clientCpu: (own.user + own.system) / latencies.length
  }
}

const offset = (base: number) => (c: Client, n: number) => c.put(key(base + n * 7919), VALUE)

interface Results {
  readonly version: string
  readonly sequential: Load
  readonly puts: ReadonlyMap<number, Load>
  readonly gets: Load
  readonly failovers: ReadonlyArray<number>
}

const measure = async (system: System, seconds: number, failovers: number, log: (line: string) => void): Promise<Results> => {
  const [one] = await system.clients(1)
  // (a) sequential puts: keys 0..999, read back in (c).
  await closedLoop(system, [one!], (c, n) => c.put(key(KEYSPACE - 1 - n), VALUE), { count: 100 }) // warm-up
  const sequential = await closedLoop(system, [one!], (c, n) => c.put(key(n), VALUE), { count: SEQUENTIAL_PUTS })
  log(`  (a) 1 client, ${SEQUENTIAL_PUTS} puts: ${fmtOps(sequential.perSecond)}/s, p50 ${fmtMs(sequential.p50)}`)
  // (b) puts in flight.
  const puts = new Map<number, Load>()
  for (const inFlight of [64, 256]) {
    const clients = await system.clients(inFlight)
    await closedLoop(system, clients, offset(inFlight * 1000), { ms: WARMUP_MS })
    const load = await closedLoop(system, clients, offset(inFlight * 1000 + 17), { ms: seconds * 1000 })
    puts.set(inFlight, load)
    log(`  (b) ${inFlight} in flight: ${fmtOps(load.perSecond)} puts/s, p99 ${fmtMs(load.p99)}, server CPU ${load.serverCpu.toFixed(0)} µs/put`)
  }
  // (c) linearizable gets.
  const readers = await system.clients(64)
  const read = (c: Client, n: number) => c.get(key(n % SEQUENTIAL_PUTS))
  await closedLoop(system, readers, read, { ms: WARMUP_MS })
  const gets = await closedLoop(system, readers, read, { ms: GETS_MS })
  const check = await one!.get(key(SEQUENTIAL_PUTS - 1))
  if (check !== VALUE) throw new Error(`${system.name}: read back ${JSON.stringify(check.slice(0, 20))}…, not the value written`)
  log(`  (c) 64 gets in flight: ${fmtOps(gets.perSecond)}/s, p99 ${fmtMs(gets.p99)}`)
  // (d) failover.
  const times: Array<number> = []
  const writer = await system.failoverClient()
  for (let run = 0; run < failovers; run++) {
    const victim = await system.leader(10_000)
    let stop = false
    let killedAt = Infinity
    let recovered: number | undefined
    const loop = (async () => {
      for (let n = 0; !stop; n++) {
        const started = performance.now()
        try {
          await writer.put(key(n), VALUE)
        } catch {
          // etcd's client gives up after its own retries (ours retries until it succeeds): try again,
          // letting I/O in first (a failure can be immediate, e.g. an open circuit breaker).
          await new Promise((r) => setImmediate(r))
          continue
        }
        if (started > killedAt && recovered === undefined) recovered = performance.now() - killedAt
      }
    })()
    try {
      await sleep(500)
      killedAt = performance.now()
      await system.kill9(victim)
      await until(10_000, `${system.name}: no write acknowledged after killing the leader`, async () => recovered)
    } finally {
      stop = true
      await withTimeout(loop, 10_000, `${system.name}: the failover writer did not stop`)
    }
    times.push(recovered! / 1000)
    log(`  (d) failover ${run + 1}: ${(recovered! / 1000).toFixed(3)} s`)
    await system.restart(victim)
    await sleep(1000) // let the restarted member settle as a follower
  }
  return { version: system.version, sequential, puts, gets, failovers: times }
}

// -- report ----------------------------------------------------------------------------------------------

const fmtOps = (x: number) => x >= 100 ? x.toFixed(0) : x.toFixed(1)
const fmtMs = (x: number) => `${x.toFixed(x < 10 ? 2 : 1)} ms`
const median = (xs: ReadonlyArray<number>) => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

interface Row {
  readonly metric: string
  readonly value: (r: Results) => number
  readonly format: (x: number) => string
}

const rows: ReadonlyArray<Row> = [
  { metric: "(a) 1 client: puts/s", value: (r) => r.sequential.perSecond, format: fmtOps },
  { metric: "(a) 1 client: put p50", value: (r) => r.sequential.p50, format: fmtMs },
  { metric: "(a) 1 client: put p99", value: (r) => r.sequential.p99, format: fmtMs },
  ...[64, 256].flatMap((n): Array<Row> => [
    { metric: `(b) ${n} in flight: puts/s`, value: (r) => r.puts.get(n)!.perSecond, format: fmtOps },
    { metric: `(b) ${n} in flight: put p50`, value: (r) => r.puts.get(n)!.p50, format: fmtMs },
    { metric: `(b) ${n} in flight: put p99`, value: (r) => r.puts.get(n)!.p99, format: fmtMs },
    { metric: `(b) ${n} in flight: server CPU µs/put`, value: (r) => r.puts.get(n)!.serverCpu, format: (x) => x.toFixed(0) },
    { metric: `(b) ${n} in flight: client CPU µs/put`, value: (r) => r.puts.get(n)!.clientCpu, format: (x) => x.toFixed(0) }
  ]),
  { metric: "(c) 64 gets in flight: gets/s", value: (r) => r.gets.perSecond, format: fmtOps },
  { metric: "(c) 64 gets in flight: get p50", value: (r) => r.gets.p50, format: fmtMs },
  { metric: "(c) 64 gets in flight: get p99", value: (r) => r.gets.p99, format: fmtMs },
  { metric: "(c) 64 gets in flight: server CPU µs/get", value: (r) => r.gets.serverCpu, format: (x) => x.toFixed(0) },
  { metric: "(d) failover, median s", value: (r) => median(r.failovers), format: (x) => x.toFixed(3) },
  { metric: "(d) failover, worst s", value: (r) => r.failovers.length === 0 ? NaN : Math.max(...r.failovers), format: (x) => x.toFixed(3) }
]

const printTable = (ours: Results, etcd: Results | undefined, names = { ours: "Concord", theirs: "etcd" }) => {
  const w = Math.max(...rows.map((r) => r.metric.length))
  const line = (cells: ReadonlyArray<string>) => console.log(`${cells[0]!.padEnd(w)}  ${cells.slice(1).map((c) => c.padStart(12)).join("  ")}`)
  if (names.theirs === "etcd") console.log(`Concord ${ours.version} (bundled CLI)${etcd === undefined ? "" : ` vs etcd ${etcd.version}`}`)
  else console.log(`Concord ${ours.version} (bundled CLI): ${names.ours} vs ${names.theirs}`)
  line(["metric", names.ours, names.theirs, `${names.ours}/${names.theirs}`])
  for (const r of rows) {
    const a = r.value(ours)
    const b = etcd === undefined ? undefined : r.value(etcd)
    line([r.metric, r.format(a), b === undefined ? "-" : r.format(b), b === undefined ? "-" : `${(a / b).toFixed(2)}x`])
  }
}

const printTargets = (ours: Results, etcd: Results | undefined) => {
  const verdict = (ok: boolean | undefined) => ok === undefined ? "n/a (no etcd)" : ok ? "MET" : "missed"
  const ratio = (f: (r: Results) => number) => etcd === undefined ? undefined : f(ours) / f(etcd)
  const show = (x: number | undefined) => x === undefined ? "" : ` (${x.toFixed(2)}x)`
  const putsRatio = ratio((r) => r.puts.get(256)!.perSecond)
  const cpu64 = ratio((r) => r.puts.get(64)!.serverCpu)
  const cpu256 = ratio((r) => r.puts.get(256)!.serverCpu)
  const p50 = ratio((r) => r.sequential.p50)
  const worst = ours.failovers.length === 0 ? undefined : Math.max(...ours.failovers)
  const target = (label: string, result: string) => console.log(`  ${label.padEnd(48)} ${result}`)
  console.log("\ntargets (issue 7, on 2 cores):")
  target("puts/s at 256 in flight >= 1.5x etcd", `${verdict(putsRatio === undefined ? undefined : putsRatio >= 1.5)}${show(putsRatio)}`)
  target("server CPU per put <= 0.7x etcd, 64 in flight", `${verdict(cpu64 === undefined ? undefined : cpu64 <= 0.7)}${show(cpu64)}`)
  target("server CPU per put <= 0.7x etcd, 256 in flight", `${verdict(cpu256 === undefined ? undefined : cpu256 <= 0.7)}${show(cpu256)}`)
  target("1-client put p50 <= etcd's", `${verdict(p50 === undefined ? undefined : p50 <= 1)}${show(p50)}`)
  target(
    "failover <= 0.5 s, every run",
    worst === undefined ? "not measured (--failovers 0)" : `${verdict(worst <= 0.5)} (${ours.failovers.map((t) => t.toFixed(3)).join(", ")} s)`
  )
}

/** `--tls`: the same load on a plain-TCP cluster and on a TLS one, and the ratio. */
const runTls = async (
  cli: string,
  dir: string,
  systems: Array<System>,
  seconds: number,
  failovers: number,
  log: (line: string) => void
) => {
  const certs = await Effect.runPromise(Certs.create({ dir: join(dir, "certs"), nodes: ["n1", "n2", "n3"] }))
  const results: Array<Results> = []
  for (const secure of [false, true]) {
    console.log(`Concord over ${secure ? "TLS (mutual between nodes; the load generator a TLS client)" : "plain TCP"}: 3 × concord kv serve`)
    const system = await startConcord(cli, join(dir, secure ? "tls" : "tcp"), secure ? certs : undefined)
    systems.push(system)
    results.push(await measure(system, seconds, failovers, log))
    await system.stop()
    systems.pop()
  }
  console.log("")
  printTable(results[1]!, results[0]!, { ours: "TLS", theirs: "TCP" })
  console.log("server CPU: all three server processes (utime+stime) over the window, per operation; client CPU: this load generator.")
}

export async function run(args: ReadonlyArray<string>) {
  const opt = (name: string, fallback: number, min: number) => {
    const i = args.indexOf(`--${name}`)
    const v = i >= 0 ? Number(args[i + 1]) : fallback
    if (!Number.isInteger(v) || v < min) throw new Error(`--${name}: expected an integer >= ${min}`)
    return v
  }
  const seconds = opt("seconds", 8, 1)
  const failovers = opt("failovers", 3, 0) // 0: skip (d), e.g. to keep the leader's CPU profile
  const tlsMode = args.includes("--tls")
  const noEtcd = args.includes("--no-etcd") || tlsMode
  const etcdOnPath = !noEtcd && (() => {
    try {
      return execFileSync("etcd", ["--version"], { stdio: ["ignore", "pipe", "ignore"] }).toString()
    } catch {
      return undefined
    }
  })()

  process.on("exit", onExit)
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  const started = performance.now()
  const systems: Array<System> = []
  try {
    const cpuModel = /^model name\s*:\s*(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "unknown CPU"
    console.log(`date ${new Date().toISOString()}; ${cpuModel}, ${cpus().length} cores; Node ${process.version}; ` +
      `etcd ${etcdOnPath ? /etcd Version:\s*(\S+)/.exec(etcdOnPath)?.[1] ?? "?" : noEtcd ? "not used" : "not on PATH"}; ` +
      `load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`)
    console.log(`key 8 B, value 256 B; puts in flight for ${seconds} s each; gets for ${GETS_MS / 1000} s; ${failovers} failovers`)
    console.log("bundling the CLI…")
    const cli = join(BUILD, "concord.mjs")
    execFileSync(process.execPath, [join(ROOT, "scripts/bundle-cli.mjs"), cli], { cwd: ROOT, stdio: "inherit" })

    const dir = mkdtempSync(join(tmpdir(), "concord-bench-kv-"))
    tempDirs.add(dir)
    const log = (line: string) => console.log(line)

    if (tlsMode) return await runTls(cli, dir, systems, seconds, failovers, log)
    console.log("Concord: 3 × concord kv serve (bundled CLI, file storage)")
    const concord = await startConcord(cli, join(dir, "concord"))
    systems.push(concord)
    const ours = await measure(concord, seconds, failovers, log)
    await concord.stop()
    systems.pop()

    let theirs: Results | undefined
    if (etcdOnPath) {
      console.log("etcd: 3 members, defaults (etcd3 npm client)")
      const etcd = await startEtcd(join(dir, "etcd"))
      systems.push(etcd)
      theirs = await measure(etcd, seconds, failovers, log)
      await etcd.stop()
      systems.pop()
    }

    console.log("")
    printTable(ours, theirs)
    console.log("server CPU: all three server processes (utime+stime) over the window, per operation; client CPU: this load\n" +
      "generator (KvClient vs the etcd3 gRPC client), which shares the machine's cores with the servers.")
    printTargets(ours, theirs)
    if (!etcdOnPath) {
      console.log(`\netcd comparison skipped: ${noEtcd ? "--no-etcd" : "no `etcd` binary on PATH (Debian/Ubuntu: `apt-get install etcd-server`)"}, ` +
        "so there are no ratios; only the absolute failover target is judged.")
    }
    console.log(`\ntotal ${((performance.now() - started) / 1000).toFixed(0)} s`)
  } finally {
    for (const s of systems) await s.stop().catch(() => undefined)
    killAll()
    removeTemp()
    process.off("exit", onExit)
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
  }
}
