/**
 * What `kv`, `cluster up` and `demo` share about a cluster: the default layout, peer and endpoint
 * lists, starting nodes as child processes, and reading and printing their statuses. Command modules
 * import this, never one another.
 * @internal
 */
import { Deferred, Effect, Either } from "effect"
import type * as KvClient from "../../kv/KvClient.js"
import type { NodeStatus } from "../../kv/Messages.js"
import { type Child, describeExit, spawnConcord } from "./children.js"

/** The embedded default cluster: three nodes on loopback (what `concord cluster up` starts). */
export const DEFAULT_PEERS = "n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003"
export const DEFAULT_ENDPOINTS = "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003"

/** `host:port`. */
export const ADDRESS = /^[^\s:=,]+:\d{1,5}$/

/** Parses `id=host:port,...`. */
export const parsePeers = (text: string): Either.Either<Record<string, string>, string> => {
  const peers: Record<string, string> = {}
  for (const part of text.split(",").map((p) => p.trim()).filter((p) => p.length > 0)) {
    const m = /^([A-Za-z0-9_.-]+)=(.+)$/.exec(part)
    if (m === null || !ADDRESS.test(m[2]!)) return Either.left(`"${part}" is not id=host:port`)
    if (peers[m[1]!] !== undefined) return Either.left(`peer ${m[1]} is listed twice`)
    const port = Number(m[2]!.split(":").pop())
    if (port < 1 || port > 65535) return Either.left(`"${part}": port out of range`)
    peers[m[1]!] = m[2]!
  }
  return Object.keys(peers).length === 0 ? Either.left("no peers") : Either.right(peers)
}

/** Parses `host:port,...`. */
export const parseEndpoints = (text: string): Either.Either<ReadonlyArray<string>, string> => {
  const list = text.split(",").map((e) => e.trim()).filter((e) => e.length > 0)
  if (list.length === 0) return Either.left("no endpoint")
  const bad = list.find((e) => !ADDRESS.test(e))
  return bad === undefined ? Either.right(list) : Either.left(`"${bad}" is not host:port`)
}

/** Where each node of a local cluster listens and keeps its data. */
export interface Layout {
  readonly peers: Record<string, string>
  readonly http: Record<string, number>
  readonly data: Record<string, string>
}

/** Node i (n1, n2, …) on `basePort + i - 1` and `httpBasePort + i - 1`, with its data in `<data>/n<i>`. */
export const layout = (nodes: number, host: string, basePort: number, httpBasePort: number, data: string): Layout => {
  const peers: Record<string, string> = {}
  const http: Record<string, number> = {}
  const dirs: Record<string, string> = {}
  for (let i = 1; i <= nodes; i++) {
    peers[`n${i}`] = `${host}:${basePort + i - 1}`
    http[`n${i}`] = httpBasePort + i - 1
    dirs[`n${i}`] = `${data}/n${i}`
  }
  return { peers, http, data: dirs }
}

/** Starts every node of `l` as a child process and waits until each listens (or fails). */
export const startNodes = (l: Layout, host: string, onStderr: (node: string, line: string) => void) =>
  Effect.gen(function*() {
    const children = new Map<string, Child>()
    for (const id of Object.keys(l.peers)) {
      children.set(id, yield* startNode(l, id, host, onStderr))
    }
    for (const [id, child] of children) {
      const ready = yield* Effect.either(Deferred.await(child.ready).pipe(Effect.timeout("20 seconds")))
      if (Either.isLeft(ready)) {
        const why = "code" in ready.left ? describeExit(ready.left) : "did not start within 20 s"
        return yield* Effect.fail(`node ${id} ${why}`)
      }
    }
    return children
  })

/**
 * Starts node `id` of `l` as a child process (`concord kv serve` with the layout's peers, data and
 * ports, and `extra` flags: its TLS files, say).
 */
export const startNode = (
  l: Layout,
  id: string,
  host: string,
  onStderr: (node: string, line: string) => void,
  extra: ReadonlyArray<string> = []
) =>
  spawnConcord(
    id,
    [
      "kv", "serve", "--id", id, "--peers", Object.entries(l.peers).map(([peer, a]) => `${peer}=${a}`).join(","),
      "--data", l.data[id]!, "--host", host, "--http-port", String(l.http[id]), "--exit-with-stdin", ...extra
    ],
    (line) => onStderr(id, line)
  )

/** Every node's status (undefined: unreachable), through one client transport. */
export const statuses = (client: KvClient.KvClientShape, ids: ReadonlyArray<string>) =>
  Effect.forEach(ids, (id) => Effect.map(Effect.either(client.status(id)), (r) => [id, Either.getOrUndefined(r)] as const), {
    concurrency: "unbounded"
  })

/** The `kv status` table. */
export const formatStatus = (
  peers: Record<string, string>,
  rows: ReadonlyArray<readonly [string, NodeStatus | undefined]>
): string => {
  const header = ["node", "address", "role", "term", "leader", "commit", "applied", "log bytes", "snapshot"]
  const lines = rows.map(([id, s]) =>
    s === undefined
      ? [id, peers[id] ?? "", "unreachable", "", "", "", "", "", ""]
      : [id, peers[id] ?? "", s.role, String(s.term), s.leader ?? "-", String(s.commit), String(s.applied), String(s.logBytes), String(s.snapshotIndex)]
  )
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  return [header, ...lines].map((l) => l.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n")
}

/** `cluster up`'s status line. */
export const summary = (rows: ReadonlyArray<readonly [string, NodeStatus | undefined]>): string => {
  const up = rows.filter(([, s]) => s !== undefined)
  const leader = up.find(([, s]) => s!.role === "Leader")
  const term = Math.max(0, ...up.map(([, s]) => s!.term))
  const commit = Math.max(0, ...up.map(([, s]) => s!.commit))
  return `${leader === undefined ? "no leader" : `leader ${leader[0]}`} · term ${term} · commit ${commit} · ` +
    `${up.length}/${rows.length} nodes up`
}
