/**
 * The harness of the deployment tests: `concord … serve` processes on loopback, run from a fresh
 * CLI bundle (as shipped), with file storage in a temp directory. Every wait is bounded; every
 * process is killed and the directory removed when the test file ends (`deployment()` registers it).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll } from "vitest"
import { freePort } from "../support/ports.js"

const root = join(import.meta.dirname, "../..")
export let work = ""
export let bundle = ""
/** Every process started by a test file: killed when it ends. */
export const running = new Set<ChildProcess>()

export { freePort }

export interface Server {
  readonly id: string
  readonly child: ChildProcess
  readonly exited: Promise<number | null>
  readonly stderr: () => string
}

/** Starts `concord <args>` (a server) and waits for its listening line. */
export const spawnServer = (id: string, args: ReadonlyArray<string>) =>
  new Promise<Server>((resolve, reject) => {
    const child = spawn(process.execPath, [bundle, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    running.add(child)
    let err = ""
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d))
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => {
      running.delete(child)
      r(code)
    }))
    const timer = setTimeout(() => reject(new Error(`${id} did not start in 20 s: ${err}`)), 20_000)
    child.stdout!.setEncoding("utf8").once("data", () => {
      clearTimeout(timer)
      resolve({ id, child, exited, stderr: () => err })
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`${id} exited (${code}) while starting: ${err.trim()}`))
    })
  })

/** A `concord kv serve` node. */
export const serve = (id: string, peers: string, dataDir: string, httpPort: number, extra: ReadonlyArray<string> = []) =>
  spawnServer(id, ["kv", "serve", "--id", id, "--peers", peers, "--data", dataDir, "--http-port", String(httpPort), ...extra])

export const concord = (...args: ReadonlyArray<string>) =>
  spawnSync(process.execPath, [bundle, ...args], { encoding: "utf8", timeout: 30_000 })

export const http = async (port: number, method: string, path: string, body?: string, headers: Record<string, string> = {}) => {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers, ...(body === undefined ? {} : { body }) })
  return { status: r.status, json: (await r.json()) as any }
}

export const until = async <A>(what: string, f: () => Promise<A | undefined>, ms = 15_000): Promise<A> => {
  const deadline = Date.now() + ms
  for (;;) {
    const a = await f().catch(() => undefined)
    if (a !== undefined) return a
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** A three-node cluster on free ports. */
export const cluster = async (name: string) => {
  const ports = await Promise.all([1, 2, 3, 4, 5, 6].map(() => freePort()))
  const ids = ["n1", "n2", "n3"]
  const peerMap = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${ports[i]}`]))
  const peers = Object.entries(peerMap).map(([id, a]) => `${id}=${a}`).join(",")
  const httpOf = Object.fromEntries(ids.map((id, i) => [id, ports[i + 3]!]))
  const dataOf = (id: string) => join(work, name, id)
  const servers = new Map<string, Server>()
  for (const id of ids) servers.set(id, await serve(id, peers, dataOf(id), httpOf[id]!))
  const leader = () =>
    until("a leader", async () => {
      for (const id of servers.keys()) {
        const s = await http(httpOf[id]!, "GET", "/v1/status")
        if (s.json.role === "Leader") return id
      }
      return undefined
    })
  return { ids, peerMap, peers, httpOf, dataOf, servers, leader }
}

/** Registers the bundle build and the clean-up for the calling test file. */
export const deployment = () => {
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "concord-deploy-"))
    bundle = join(work, "concord.mjs")
    execFileSync(process.execPath, [join(root, "scripts/bundle-cli.mjs"), bundle], { cwd: root })
  }, 60_000)
  afterAll(() => {
    for (const child of running) child.kill("SIGKILL")
    rmSync(work, { recursive: true, force: true })
  })
}
