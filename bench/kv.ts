/**
 * `npm run bench -- kv [--seconds N] [--failovers N] [--no-etcd] [--tls]`: the key/value service against etcd.
 *
 * With `--tls`: the cost of security instead. The same rows, (a)-(d), for the Concord cluster over
 * plain TCP and for one with mutual TLS between its nodes and TLS from the load generator
 * (certificates from `concord certs create`'s code), in one run, with the ratio TLS/TCP; no etcd, no
 * HTTP rows, no breakdown.
 *
 * Starts a 3-node Concord cluster (the bundled CLI that ships, `concord kv serve`, as child processes:
 * loopback TCP, file storage in a temporary directory, the HTTP API on) and, if an `etcd` binary is on
 * PATH, a 3-member etcd on loopback (temporary data dirs, etcd's defaults otherwise: it fsyncs every
 * batch like we do). Both are driven by the same load generator, this one Node process.
 *
 * Nothing is warmed up that a user's client would not have warm. The servers are, as a running
 * cluster's are: 1 s of 64 puts in flight from a throw-away client first (and 1 s of HTTP puts before
 * the HTTP rows). Every row below then uses brand-new clients on a new connection, made for it and
 * closed after it, and counts their first requests:
 *   (a) 1 client, 1000 sequential puts (key 8 B, value 256 B): ops/s, p50, p99, p99.9, and the CPU
 *       per put of each member (utime+stime from /proc/<pid>/stat), leader and followers apart;
 *   (b) 64 and 256 puts in flight for `seconds` (default 8) each: ops/s, p50, p99, p99.9, and server
 *       CPU per put (all members together, over the window, divided by the puts). Each twice: "fresh
 *       clients" (the clients' first window, from their first request) and "warmed" (the same clients
 *       for a second window at once after);
 *   (b') a new client's first request under load: during the warmed 256-in-flight window, 20
 *       brand-new clients (Concord: a `KvClient` on a new Tcp transport, so a new connection; etcd: a
 *       new `Etcd3`), spaced over the window, each time one put from its creation; p50 and max, and
 *       the max against that window's p99 (the steady p99);
 *   (c) linearizable gets, 64 in flight, over the keys written in (a);
 *   (h) the HTTP API, a third driver (node:http, a keep-alive Agent with one socket per request in
 *       flight): Concord's `PUT /v1/kv/{key}` (raw body) and `GET /v1/kv/{key}`, and for etcd its JSON
 *       gRPC gateway, `POST /v3/kv/put` and `/v3/kv/range` (base64 keys and values): 1 client, 1000
 *       sequential puts; 64 puts in flight to the leader; 64 puts in flight to a follower (which
 *       forwards to the leader); 64 linearizable gets in flight to the leader;
 *   (d) failover: a writer loop runs, the leader gets `kill -9`; the time from the kill until the
 *       first acknowledged write that was issued after the kill. Repeated `failovers` times (default
 *       3); the killed member is restarted and caught up between runs.
 * Concord's clients are `KvClient`s (one operation at a time each: N in flight = N clients sharing
 * one new Tcp transport), given every member (each finds the leader itself). etcd's is the `etcd3`
 * npm client (gRPC), one new client with N concurrent calls; for (a)-(c) it connects to the leader
 * only (no forwarding hop: the setting most favourable to etcd), gets are its default
 * (linearizable). In (d) both writers know all three members, give each call 250 ms and retry
 * elsewhere until a write succeeds (etcd3's own retry policies are off there: see `noPolicy`).
 *
 * Per-stage breakdown (Concord): every node's `GET /metrics` is scraped before and after each phase,
 * and every counter and histogram series that moved is printed per operation, per node (see
 * bench/_prom.ts): new metrics show up without changes here.
 *
 * Printed: a table of both, ratios Concord/etcd, an HTTP table (Concord HTTP, etcd's gateway, etcd
 * gRPC, Concord binary), and whether the targets of issue 11 (and issue 7's failover target) are met.
 * The generator's own CPU per operation is shown too: it shares the machine's cores with the servers.
 *
 * Profiling: CONCORD_BENCH_NODE_ARGS is passed to the Concord servers' `node`, e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` (a profile is written when its server stops: at the end, not
 * for a leader killed in (d)). CONCORD_BENCH_VERBOSE=1 echoes the servers' output.
 */
import { type Duration, Effect, Exit, Scope } from "effect"
import { Etcd3, type IOptions } from "etcd3"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import { cpus, loadavg, tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import * as Certs from "../src/cli/internal/certs.js"
import * as KvClient from "../src/kv/KvClient.js"
import type { NodeStatus } from "../src/kv/Messages.js"
import * as Tcp from "../src/rpc/Tcp.js"
import { Transport } from "../src/rpc/Transport.js"
import * as Prom from "./_prom.js"

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const BUILD = join(ROOT, "node_modules/.cache/concord-bench")
const SEQUENTIAL_PUTS = 1000
const WARMUP_MS = 1000
const GETS_MS = 5000
const FAILOVER_CALL_MS = 250
/** Brand-new clients, each timing its first put, during the warmed 256-in-flight window. */
const NEW_CLIENTS = 20
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

/** Brand-new clients on their own new connection(s), made for one phase and closed after it. */
interface Session {
  readonly clients: ReadonlyArray<Client>
  readonly close: () => Promise<void>
}

interface System {
  readonly name: string
  readonly version: string
  /** The members' ids, in member order (the order of `pids`, `scrape` and member indexes). */
  readonly ids: ReadonlyArray<string>
  readonly pids: () => ReadonlyArray<number>
  /**
   * `n` new clients on a new connection, for the load phases. Concord: `n` KvClients on one new Tcp
   * transport, given every member; etcd: one new Etcd3 client connected to `leader`, `n` calls at once.
   */
  readonly session: (n: number, leader: number) => Promise<Session>
  /** The HTTP API: `n` clients sharing a new keep-alive Agent of `n` sockets, sending to `member`. */
  readonly http?: { readonly name: string; readonly session: (n: number, member: number) => Promise<Session> }
  /** Every member's metrics (undefined for one that did not answer), if it serves them. */
  readonly scrape?: () => Promise<ReadonlyArray<Prom.Scrape | undefined>>
  /** A writer for the failover phase: knows all members, gives each call FAILOVER_CALL_MS. */
  readonly failoverClient: () => Promise<Client>
  /** Which member leads (index), waiting up to `ms` for one. */
  readonly leader: (ms: number) => Promise<number>
  readonly kill9: (member: number) => Promise<void>
  /** Starts the member again on its data and waits until it has caught up with the leader. */
  readonly restart: (member: number) => Promise<void>
  readonly stop: () => Promise<void>
}

/** One HTTP request on `agent`; resolves with the body of a 200, rejects otherwise. */
const httpCall = (
  agent: http.Agent,
  port: number,
  method: string,
  path: string,
  body?: string,
  contentType = "application/octet-stream"
) =>
  new Promise<string>((resolve, reject) => {
    const headers = body === undefined ? {} : { "content-type": contentType, "content-length": Buffer.byteLength(body) }
    const req = http.request({ host: "127.0.0.1", port, method, path, agent, headers }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (d: Buffer) => chunks.push(d))
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8")
        if (res.statusCode === 200) resolve(text)
        else reject(new Error(`${method} ${path}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`))
      })
      res.on("error", reject)
    })
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path}: no answer within 10 s`)))
    req.on("error", reject)
    req.end(body)
  })

/** `n` clients over HTTP to `port`, on one new keep-alive Agent with `n` sockets. */
const httpSession = (n: number, make: (agent: http.Agent) => Client): Session => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: n })
  const client = make(agent)
  return { clients: Array.from({ length: n }, () => client), close: async () => agent.destroy() }
}

let transports = 0

const startConcord = async (cli: string, dir: string, options: { certs?: Certs.Created; http: boolean }): Promise<System> => {
  const { certs } = options
  const ids = ["n1", "n2", "n3"]
  const ports = await freePorts(6)
  const httpPorts = ports.slice(3)
  const peers = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${ports[i]}`]))
  const peersFlag = ids.map((id) => `${id}=${peers[id]}`).join(",")
  const nodeArgs = (process.env.CONCORD_BENCH_NODE_ARGS ?? "").split(" ").filter((a) => a !== "")
  const spawnNode = (i: number) =>
    new Server(`concord ${ids[i]}`, process.execPath, [
      ...nodeArgs,
      cli, "kv", "serve", "--id", ids[i]!, "--peers", peersFlag, "--data", join(dir, ids[i]!),
      ...(options.http ? ["--http-port", String(httpPorts[i])] : ["--no-http"]),
      ...(certs === undefined ? [] : ["--tls-cert", certs.nodes[ids[i]!]!.cert, "--tls-key", certs.nodes[ids[i]!]!.key, "--tls-ca", certs.ca])
    ], process.env)
  const nodes = ids.map((_, i) => spawnNode(i))
  await Promise.all(nodes.map((n) => n.ready(10_000)))

  const tls = certs === undefined ? {} : { tls: { ca: readFileSync(certs.ca, "utf8") } }
  /** A new Tcp transport (a new connection to each member it calls), closed with `close`. */
  const newTransport = async () => {
    const scope = Effect.runSync(Scope.make())
    const transport = await Effect.runPromise(Scope.extend(Tcp.make({ self: `bench-${++transports}`, peers, ...tls }), scope))
    return { transport, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
  }
  const makeClient = (transport: Tcp.TcpTransport, callTimeout: Duration.DurationInput) =>
    Effect.runSync(KvClient.make({ servers: ids, callTimeout }).pipe(Effect.provideService(Transport, transport)))
  const toClient = (c: KvClient.KvClientShape): Client => ({
    put: (k, v) => Effect.runPromise(c.put(k, v)),
    get: (k) => Effect.runPromise(c.get(k))
  })
  const control = await newTransport() // the bench's own: status probes and the failover writer
  const probe = makeClient(control.transport, "500 millis")
  const status = (i: number) => Effect.runPromise(probe.status(ids[i]!)) as Promise<NodeStatus>
  const leader = (ms: number) =>
    until(ms, "no Concord leader elected", async () => {
      const all = await Promise.all(ids.map((_, i) => nodes[i]!.exited === null ? status(i).catch(() => undefined) : undefined))
      const i = all.findIndex((s) => s?.role === "Leader")
      return i >= 0 ? i : undefined
    })
  await leader(10_000)
  const version = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version as string
  const sessions = new Set<() => Promise<void>>()

  return {
    name: certs === undefined ? "Concord" : "Concord (TLS)",
    version,
    ids,
    pids: () => nodes.map((n) => n.pid),
    session: async (n) => {
      const t = await newTransport()
      sessions.add(t.close)
      const clients = Array.from({ length: n }, () => toClient(makeClient(t.transport, "5 seconds")))
      return { clients, close: () => (sessions.delete(t.close), t.close()) }
    },
    ...(options.http
      ? {
        http: {
          name: "Concord HTTP",
          session: async (n, member) =>
            httpSession(n, (agent) => ({
              put: async (k, v) => void (await httpCall(agent, httpPorts[member]!, "PUT", `/v1/kv/${encodeURIComponent(k)}`, v)),
              get: async (k) => (JSON.parse(await httpCall(agent, httpPorts[member]!, "GET", `/v1/kv/${encodeURIComponent(k)}`)) as { value: string }).value
            }))
        },
        scrape: () =>
          Promise.all(ids.map((_, i) => nodes[i]!.exited === null ? Prom.scrape(`http://127.0.0.1:${httpPorts[i]}/metrics`) : undefined))
      }
      : {}),
    failoverClient: async () => toClient(makeClient(control.transport, `${FAILOVER_CALL_MS} millis`)),
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
      for (const close of sessions) await close()
      await control.close()
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

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64")

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
  const opened = new Set<Etcd3>()
  const open = (hosts: Array<string>, callMs?: number, retryItself = false) => {
    const c = new Etcd3({
      hosts,
      dialTimeout: 2000,
      ...(callMs === undefined ? {} : { defaultCallOptions: () => ({ deadline: Date.now() + callMs }) }),
      ...(retryItself ? { faultHandling: { host: () => noPolicy, global: noPolicy } } : {})
    })
    opened.add(c)
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
    ids: names,
    pids: () => members.map((m) => m.child.pid!),
    session: async (n, leaderIndex) => {
      const c = open([clientUrl(leaderIndex)])
      const client = toClient(c)
      return { clients: Array.from({ length: n }, () => client), close: async () => (opened.delete(c), c.close()) }
    },
    http: {
      name: "etcd HTTP (gateway)",
      session: async (n, member) =>
        httpSession(n, (agent) => ({
          put: async (k, v) =>
            void (await httpCall(agent, ports[member]!, "POST", "/v3/kv/put", JSON.stringify({ key: b64(k), value: b64(v) }), "application/json")),
          get: async (k) => {
            const r = JSON.parse(await httpCall(agent, ports[member]!, "POST", "/v3/kv/range", JSON.stringify({ key: b64(k) }), "application/json")) as {
              kvs?: Array<{ value?: string }>
            }
            return Buffer.from(r.kvs?.[0]?.value ?? "", "base64").toString("utf8")
          }
        }))
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
  readonly p999: number
  /** Server CPU (all members) per operation, µs. */
  readonly serverCpu: number
  /** Each member's CPU per operation, µs, in member order. */
  readonly perNode: ReadonlyArray<number>
  /** The leader's member index during the phase. */
  readonly leader: number
  /** This process's CPU per operation, µs. */
  readonly clientCpu: number
}

const percentile = (sorted: Float64Array, q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!

/**
 * Runs `op` in a loop on every client until `ms` have passed (or `count` ops, for one client);
 * `alongside` runs at the same time (given the window's length) and is awaited, outside the window.
 */
const closedLoop = async (
  system: System,
  leader: number,
  clients: ReadonlyArray<Client>,
  op: (c: Client, n: number) => Promise<unknown>,
  limit: { ms: number } | { count: number },
  alongside?: (ms: number) => Promise<unknown>
): Promise<Load> => {
  const latencies: Array<number> = []
  const pids = system.pids()
  const cpu0 = pids.map(cpuMicros)
  const own0 = process.cpuUsage()
  const start = performance.now()
  const end = "ms" in limit ? start + limit.ms : Infinity
  let issued = 0
  const side = alongside === undefined || !("ms" in limit) ? undefined : alongside(limit.ms)
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
  const perPid = pids.map((pid, i) => cpuMicros(pid) - cpu0[i]!)
  await side
  const sorted = Float64Array.from(latencies).sort()
  return {
    ops: latencies.length,
    perSecond: latencies.length / seconds,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    p999: percentile(sorted, 0.999),
    serverCpu: perPid.reduce((a, b) => a + b, 0) / latencies.length,
    perNode: perPid.map((c) => c / latencies.length),
    leader,
    clientCpu: (own.user + own.system) / latencies.length
  }
}

const offset = (base: number) => (c: Client, n: number) => c.put(key(base + n * 7919), VALUE)

/** What every node's counters did during one phase. */
interface Breakdown {
  readonly label: string
  readonly unit: string
  readonly ops: number
  readonly leader: number
  readonly changes: ReadonlyArray<ReadonlyMap<string, Prom.Change> | undefined>
}

interface HttpResults {
  readonly name: string
  readonly sequential: Load
  readonly puts: Load
  readonly follower: Load
  readonly gets: Load
}

interface Results {
  readonly version: string
  readonly ids: ReadonlyArray<string>
  readonly sequential: Load
  readonly puts: ReadonlyMap<number, { readonly fresh: Load; readonly warmed: Load }>
  /** Latency of each new client's first put during the warmed 256-in-flight window, ms. */
  readonly firstPuts: ReadonlyArray<number>
  readonly gets: Load
  readonly http: HttpResults | undefined
  readonly failovers: ReadonlyArray<number>
  readonly breakdowns: ReadonlyArray<Breakdown>
}

const fmtLoad = (l: Load, unit: string) =>
  `${fmtOps(l.perSecond)} ${unit}s/s, p50 ${fmtMs(l.p50)}, p99 ${fmtMs(l.p99)}, p99.9 ${fmtMs(l.p999)}, ` +
  `server CPU ${l.serverCpu.toFixed(0)} µs/${unit} (leader ${l.perNode[l.leader]!.toFixed(0)}, followers ` +
  `${l.perNode.filter((_, i) => i !== l.leader).map((x) => x.toFixed(0)).join("/")})`

const measure = async (system: System, seconds: number, failovers: number, log: (line: string) => void): Promise<Results> => {
  const lead = await system.leader(10_000)
  const breakdowns: Array<Breakdown> = []
  /** A measured phase: the load, with every node's metrics scraped before and after it. */
  const phase = async (
    label: string,
    unit: string,
    clients: ReadonlyArray<Client>,
    op: (c: Client, n: number) => Promise<unknown>,
    limit: { ms: number } | { count: number },
    alongside?: (ms: number) => Promise<unknown>
  ) => {
    const before = await system.scrape?.()
    const load = await closedLoop(system, lead, clients, op, limit, alongside)
    const after = await system.scrape?.()
    if (before !== undefined && after !== undefined) {
      const changes = system.ids.map((_, i) => before[i] && after[i] ? Prom.diff(before[i], after[i], load.ops) : undefined)
      breakdowns.push({ label, unit, ops: load.ops, leader: lead, changes })
    }
    log(`  ${label}: ${fmtLoad(load, unit)}`)
    return load
  }
  /** Warms the servers (not the clients measured after it) with a throw-away session. */
  const warmServers = async (session: Session) => {
    await closedLoop(system, lead, session.clients, offset(90_000), { ms: WARMUP_MS })
    await session.close()
  }

  await warmServers(await system.session(64, lead))
  // (a) sequential puts: keys 0..999, read back in (c).
  const one = await system.session(1, lead)
  const sequential = await phase(`(a) 1 client, ${SEQUENTIAL_PUTS} sequential puts`, "put", one.clients, (c, n) => c.put(key(n), VALUE), {
    count: SEQUENTIAL_PUTS
  })
  // (b) puts in flight, from the clients' first request, then again with the same clients; (b') new clients.
  const puts = new Map<number, { fresh: Load; warmed: Load }>()
  const firstPuts: Array<number> = []
  const newClients = (ms: number) =>
    Promise.all(Array.from({ length: NEW_CLIENTS }, async (_, i) => {
      await sleep((ms * (i + 0.5)) / NEW_CLIENTS)
      const started = performance.now()
      const s = await system.session(1, lead)
      try {
        await s.clients[0]!.put(key(70_000 + i), VALUE)
        firstPuts.push(performance.now() - started)
      } finally {
        await s.close()
      }
    }))
  for (const inFlight of [64, 256]) {
    const s = await system.session(inFlight, lead)
    const fresh = await phase(`(b) ${inFlight} in flight, fresh clients`, "put", s.clients, offset(inFlight * 1000), { ms: seconds * 1000 })
    const warmed = await phase(
      `(b) ${inFlight} in flight, warmed${inFlight === 256 ? ` (+${NEW_CLIENTS} new clients)` : ""}`,
      "put",
      s.clients,
      offset(inFlight * 1000 + 17),
      { ms: seconds * 1000 },
      inFlight === 256 ? newClients : undefined
    )
    await s.close()
    puts.set(inFlight, { fresh, warmed })
  }
  const sortedFirst = [...firstPuts].sort((a, b) => a - b)
  log(`  (b') ${NEW_CLIENTS} new clients' first put under 256 in flight: p50 ${fmtMs(median(sortedFirst))}, max ${fmtMs(sortedFirst[sortedFirst.length - 1]!)}`)
  // (c) linearizable gets.
  const readers = await system.session(64, lead)
  const gets = await phase("(c) 64 gets in flight", "get", readers.clients, (c, n) => c.get(key(n % SEQUENTIAL_PUTS)), { ms: GETS_MS })
  await readers.close()
  const check = await one.clients[0]!.get(key(SEQUENTIAL_PUTS - 1))
  if (check !== VALUE) throw new Error(`${system.name}: read back ${JSON.stringify(check.slice(0, 20))}…, not the value written`)
  await one.close()
  // (h) the HTTP API.
  let httpResults: HttpResults | undefined
  if (system.http !== undefined) {
    const h = system.http
    const follower = (lead + 1) % system.ids.length
    const httpPut = (base: number) => (c: Client, n: number) => c.put(key(base + n * 7919), VALUE)
    await warmServers(await h.session(64, lead))
    const s1 = await h.session(1, lead)
    const hSequential = await phase(`(h) ${h.name}, 1 client, ${SEQUENTIAL_PUTS} sequential puts`, "put", s1.clients, (c, n) =>
      c.put(key(10_000 + n), VALUE), { count: SEQUENTIAL_PUTS })
    const s64 = await h.session(64, lead)
    const hPuts = await phase(`(h) ${h.name}, 64 puts in flight to the leader`, "put", s64.clients, httpPut(20_000), { ms: seconds * 1000 })
    await s64.close()
    const sf = await h.session(64, follower)
    const hFollower = await phase(`(h) ${h.name}, 64 puts in flight to a follower`, "put", sf.clients, httpPut(30_000), {
      ms: seconds * 1000
    })
    await sf.close()
    const sg = await h.session(64, lead)
    const hGets = await phase(`(h) ${h.name}, 64 gets in flight to the leader`, "get", sg.clients, (c, n) =>
      c.get(key(10_000 + (n % SEQUENTIAL_PUTS))), { ms: GETS_MS })
    await sg.close()
    const back = await s1.clients[0]!.get(key(10_000 + SEQUENTIAL_PUTS - 1))
    if (back !== VALUE) throw new Error(`${h.name}: read back ${JSON.stringify(back.slice(0, 20))}…, not the value written`)
    await s1.close()
    httpResults = { name: h.name, sequential: hSequential, puts: hPuts, follower: hFollower, gets: hGets }
  }
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
  return {
    version: system.version,
    ids: system.ids,
    sequential,
    puts,
    firstPuts,
    gets,
    http: httpResults,
    failovers: times,
    breakdowns
  }
}

// -- report ----------------------------------------------------------------------------------------------

const fmtOps = (x: number) => x >= 100 ? x.toFixed(0) : x.toFixed(1)
const fmtMs = (x: number) => `${x.toFixed(x < 10 ? 2 : 1)} ms`
const fmtUs = (x: number) => x.toFixed(0)
const median = (xs: ReadonlyArray<number>) => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}
const followers = (l: Load) => l.perNode.filter((_, i) => i !== l.leader)

interface Row {
  readonly metric: string
  readonly value: (r: Results) => number
  readonly format: (x: number) => string
}

/** The rows of a load: throughput, p50, p99, p99.9, server CPU, and (optionally) client CPU. */
const loadRows = (label: string, unit: string, pick: (r: Results) => Load, client = false): Array<Row> => [
  { metric: `${label}: ${unit}s/s`, value: (r) => pick(r).perSecond, format: fmtOps },
  { metric: `${label}: ${unit} p50`, value: (r) => pick(r).p50, format: fmtMs },
  { metric: `${label}: ${unit} p99`, value: (r) => pick(r).p99, format: fmtMs },
  { metric: `${label}: ${unit} p99.9`, value: (r) => pick(r).p999, format: fmtMs },
  { metric: `${label}: server CPU µs/${unit}`, value: (r) => pick(r).serverCpu, format: fmtUs },
  ...(client ? [{ metric: `${label}: client CPU µs/${unit}`, value: (r: Results) => pick(r).clientCpu, format: fmtUs }] : [])
]

const firstMax = (r: Results) => r.firstPuts.length === 0 ? NaN : Math.max(...r.firstPuts)

const rows: ReadonlyArray<Row> = [
  ...loadRows(`(a) 1 client, ${SEQUENTIAL_PUTS} puts`, "put", (r) => r.sequential).slice(0, 4),
  { metric: "(a) 1 client: CPU µs/put, leader", value: (r) => r.sequential.perNode[r.sequential.leader]!, format: fmtUs },
  { metric: "(a) 1 client: CPU µs/put, busier follower", value: (r) => Math.max(...followers(r.sequential)), format: fmtUs },
  { metric: "(a) 1 client: CPU µs/put, other follower", value: (r) => Math.min(...followers(r.sequential)), format: fmtUs },
  ...[64, 256].flatMap((n): Array<Row> => [
    ...loadRows(`(b) ${n} in flight, fresh clients`, "put", (r) => r.puts.get(n)!.fresh, true),
    ...loadRows(`(b) ${n} in flight, warmed`, "put", (r) => r.puts.get(n)!.warmed)
  ]),
  { metric: `(b') new client's first put under 256: p50`, value: (r) => median(r.firstPuts), format: fmtMs },
  { metric: `(b') new client's first put under 256: max`, value: firstMax, format: fmtMs },
  { metric: `(b') first put max / steady (warmed 256) p99`, value: (r) => firstMax(r) / r.puts.get(256)!.warmed.p99, format: (x) => `${x.toFixed(2)}x` },
  ...loadRows("(c) 64 gets in flight", "get", (r) => r.gets),
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
    const f = (x: number | undefined) => x === undefined || Number.isNaN(x) ? "-" : r.format(x)
    const q = b === undefined || Number.isNaN(a / b) ? "-" : `${(a / b).toFixed(2)}x`
    line([r.metric, f(a), f(b), q])
  }
}

/** The HTTP rows, each against the same load over etcd's gateway, etcd's gRPC and Concord's binary protocol. */
const httpRows: ReadonlyArray<{
  readonly metric: string
  readonly http: (h: HttpResults) => Load
  readonly binary: (r: Results) => Load
  readonly field: (l: Load) => number
  readonly format: (x: number) => string
}> = [
  ...([
    ["(h) 1 client, sequential", "put", (h: HttpResults) => h.sequential, (r: Results) => r.sequential, false],
    ["(h) 64 in flight, leader", "put", (h: HttpResults) => h.puts, (r: Results) => r.puts.get(64)!.fresh, true],
    ["(h) 64 in flight, follower", "put", (h: HttpResults) => h.follower, (r: Results) => r.puts.get(64)!.fresh, true],
    ["(h) 64 gets in flight", "get", (h: HttpResults) => h.gets, (r: Results) => r.gets, true]
  ] as const).flatMap(([label, unit, http, binary, cpu]) => [
    { metric: `${label}: ${unit}s/s`, http, binary, field: (l: Load) => l.perSecond, format: fmtOps },
    { metric: `${label}: ${unit} p50`, http, binary, field: (l: Load) => l.p50, format: fmtMs },
    { metric: `${label}: ${unit} p99`, http, binary, field: (l: Load) => l.p99, format: fmtMs },
    { metric: `${label}: ${unit} p99.9`, http, binary, field: (l: Load) => l.p999, format: fmtMs },
    ...(cpu ? [{ metric: `${label}: server CPU µs/${unit}`, http, binary, field: (l: Load) => l.serverCpu, format: fmtUs }] : [])
  ])
]

const printHttpTable = (ours: Results, etcd: Results | undefined) => {
  if (ours.http === undefined) return
  const w = Math.max(...httpRows.map((r) => r.metric.length))
  const heads = ["Concord HTTP", "etcd HTTP", "etcd gRPC", "Concord bin", "/etcd HTTP", "/etcd gRPC", "/Concord bin"]
  const line = (cells: ReadonlyArray<string>) => console.log(`${cells[0]!.padEnd(w)}  ${cells.slice(1).map((c) => c.padStart(12)).join("  ")}`)
  console.log("\nHTTP API (node:http, keep-alive; etcd: its JSON gRPC gateway); the same load over etcd gRPC and Concord's binary protocol;")
  console.log("ratios: Concord HTTP / each (the follower rows against the leader rows of the other drivers)")
  line(["metric", ...heads])
  for (const r of httpRows) {
    const a = r.field(r.http(ours.http))
    const eh = etcd?.http === undefined ? undefined : r.field(r.http(etcd.http))
    const eg = etcd === undefined ? undefined : r.field(r.binary(etcd))
    const cb = r.field(r.binary(ours))
    const f = (x: number | undefined) => x === undefined ? "-" : r.format(x)
    const q = (x: number | undefined) => x === undefined ? "-" : `${(a / x).toFixed(2)}x`
    line([r.metric, f(a), f(eh), f(eg), f(cb), q(eh), q(eg), q(cb)])
  }
}

/** The per-stage breakdown of every phase (Concord's counters, per operation, per node). */
const printBreakdown = (r: Results, name: string) => {
  if (r.breakdowns.length === 0) return
  console.log(`\nper-stage breakdown (${name}): every node's /metrics before and after each phase; per operation, counters as their`)
  console.log("delta, histograms as mean×observations (µs for *_seconds); only series that moved; the node label dropped")
  for (const b of r.breakdowns) {
    const columns = b.changes.map((changes, i) => ({ header: `${r.ids[i]} (${i === b.leader ? "leader" : "follower"})`, changes }))
    console.log("")
    for (const l of Prom.table(`${b.label}: per ${b.unit}, ${b.ops} ${b.unit}s`, columns, "concord_")) console.log(l)
  }
}

const printTargets = (ours: Results, etcd: Results | undefined) => {
  const target = (label: string, result: string) => console.log(`  ${label.padEnd(58)} ${result}`)
  const judge = (label: string, value: number | undefined, ok: (x: number) => boolean, show: (x: number) => string) =>
    target(label, value === undefined || Number.isNaN(value) ? "n/a (no etcd)" : `${ok(value) ? "MET" : "missed"} (${show(value)})`)
  const ratio = (f: (r: Results) => number) => etcd === undefined ? undefined : f(ours) / f(etcd)
  const x = (v: number) => `${v.toFixed(2)}x`
  const seq = ours.sequential
  const worstFollower = Math.max(...followers(seq))
  const steady = ours.puts.get(256)!.warmed.p99
  console.log("\ntargets (issue 11, on 2 cores; 256 and 64 in flight: the fresh-clients rows):")
  judge("1 client: put p50 <= 0.8x etcd", ratio((r) => r.sequential.p50), (v) => v <= 0.8, x)
  judge("1 client: CPU per put, leader <= 150 µs", seq.perNode[seq.leader]!, (v) => v <= 150, (v) => `${v.toFixed(0)} µs`)
  judge("1 client: CPU per put, each follower <= 100 µs", worstFollower, (v) => v <= 100, () =>
    `${followers(seq).map((v) => v.toFixed(0)).join(", ")} µs`)
  judge("256 in flight: puts/s >= 2x etcd", ratio((r) => r.puts.get(256)!.fresh.perSecond), (v) => v >= 2, x)
  judge("256 in flight: server CPU per put <= 0.6x etcd", ratio((r) => r.puts.get(256)!.fresh.serverCpu), (v) => v <= 0.6, x)
  judge("256 in flight: p99 <= etcd's", ratio((r) => r.puts.get(256)!.fresh.p99), (v) => v <= 1, x)
  judge(`a new client's first put under load <= 2x steady p99`, firstMax(ours) / steady, (v) => v <= 2, (v) =>
    `worst of ${ours.firstPuts.length} ${fmtMs(firstMax(ours))} = ${x(v)} the warmed 256 p99 ${fmtMs(steady)}`)
  if (ours.http !== undefined) {
    const h = ours.http.puts.perSecond
    judge("HTTP, 64 puts in flight: puts/s >= 1.5x etcd (gRPC)", etcd === undefined ? undefined : h / etcd.puts.get(64)!.fresh.perSecond, (v) =>
      v >= 1.5, x)
    judge("HTTP, 64 puts in flight: puts/s >= 0.7x Concord binary", h / ours.puts.get(64)!.fresh.perSecond, (v) => v >= 0.7, x)
  }
  judge("64 linearizable gets in flight: gets/s >= 2.5x etcd", ratio((r) => r.gets.perSecond), (v) => v >= 2.5, x)
  target("KV suite in simulation >= 30 sim s / wall s", "see `npm run bench -- sim`")
  const worst = ours.failovers.length === 0 ? undefined : Math.max(...ours.failovers)
  target(
    "failover <= 0.5 s, every run (issue 7)",
    worst === undefined ? "not measured (--failovers 0)" : `${worst <= 0.5 ? "MET" : "missed"} (${ours.failovers.map((t) => t.toFixed(3)).join(", ")} s)`
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
    const system = await startConcord(cli, join(dir, secure ? "tls" : "tcp"), { ...(secure ? { certs } : {}), http: false })
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
    console.log(`key 8 B, value 256 B; puts in flight for ${seconds} s each (fresh clients, then warmed); gets for ${GETS_MS / 1000} s; ` +
      `${failovers} failovers`)
    console.log("bundling the CLI…")
    const cli = join(BUILD, "concord.mjs")
    execFileSync(process.execPath, [join(ROOT, "scripts/bundle-cli.mjs"), cli], { cwd: ROOT, stdio: "inherit" })

    const dir = mkdtempSync(join(tmpdir(), "concord-bench-kv-"))
    tempDirs.add(dir)
    const log = (line: string) => console.log(line)

    if (tlsMode) return await runTls(cli, dir, systems, seconds, failovers, log)
    console.log("Concord: 3 × concord kv serve (bundled CLI, file storage)")
    const concord = await startConcord(cli, join(dir, "concord"), { http: true })
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

    printBreakdown(ours, "Concord")
    console.log("")
    printTable(ours, theirs)
    console.log("server CPU: all three server processes (utime+stime) over the window, per operation (in (a) each member's); client\n" +
      "CPU: this load generator (KvClient vs the etcd3 gRPC client), which shares the machine's cores with the servers. Fresh\n" +
      "clients: new clients on a new connection, from their first request; warmed: the same clients' second window.")
    printHttpTable(ours, theirs)
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
