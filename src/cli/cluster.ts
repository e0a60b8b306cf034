/**
 * `concord cluster up`: a local key/value cluster as child processes, with a live status line.
 *
 *   concord cluster up [--nodes 3] [--data ./data] [--base-port 7001] [--http-base-port 8001]
 *
 * Node i (n1, n2, ...) serves Raft/KV on base-port + i - 1 and HTTP on http-base-port + i - 1, keeps
 * its data in <data>/n<i>, and binds 127.0.0.1. Ctrl-C (or SIGTERM) stops them all. `npm start` runs
 * this with the defaults, which are also the defaults of `concord kv get/put/...`.
 * @since 0.1.0
 */
import { Command, Options } from "@effect/cli"
import { Console, Data, Deferred, Effect, Either, Fiber } from "effect"
import * as KvClient from "../kv/KvClient.js"
import type { NodeStatus } from "../kv/Messages.js"
import * as Tcp from "../rpc/Tcp.js"
import { Transport } from "../rpc/Transport.js"
import { type Child, describeExit, portFree, spawnConcord } from "./internal/children.js"
import { statuses } from "./kv.js"

export class ClusterExit extends Data.TaggedError("ClusterExit")<{ readonly exitCode: number }> {}

const fail = (message: string, exitCode = 1) =>
  Console.error(`concord cluster up: ${message}`).pipe(Effect.zipRight(new ClusterExit({ exitCode })))

export interface Layout {
  readonly peers: Record<string, string>
  readonly http: Record<string, number>
  readonly data: Record<string, string>
}

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

/** Starts node `id` of `l` as a child process (`concord kv serve` with the layout's peers, data and ports). */
export const startNode = (l: Layout, id: string, host: string, onStderr: (node: string, line: string) => void) =>
  spawnConcord(
    id,
    [
      "kv", "serve", "--id", id, "--peers", Object.entries(l.peers).map(([peer, a]) => `${peer}=${a}`).join(","),
      "--data", l.data[id]!, "--host", host, "--http-port", String(l.http[id])
    ],
    (line) => onStderr(id, line)
  )

export const summary = (rows: ReadonlyArray<readonly [string, NodeStatus | undefined]>): string => {
  const up = rows.filter(([, s]) => s !== undefined)
  const leader = up.find(([, s]) => s!.role === "Leader")
  const term = Math.max(0, ...up.map(([, s]) => s!.term))
  const commit = Math.max(0, ...up.map(([, s]) => s!.commit))
  return `${leader === undefined ? "no leader" : `leader ${leader[0]}`} · term ${term} · commit ${commit} · ` +
    `${up.length}/${rows.length} nodes up`
}

const up = Command.make(
  "up",
  {
    nodes: Options.integer("nodes").pipe(Options.withDefault(3), Options.withDescription("number of nodes (default 3)")),
    data: Options.text("data").pipe(Options.withDefault("./data"), Options.withDescription("data directory; node i uses <data>/n<i> (default ./data)")),
    basePort: Options.integer("base-port").pipe(Options.withDefault(7001), Options.withDescription("Raft/KV port of n1; n2 uses the next, ... (default 7001)")),
    httpBasePort: Options.integer("http-base-port").pipe(Options.withDefault(8001), Options.withDescription("HTTP port of n1 (default 8001)")),
    host: Options.text("host").pipe(Options.withDefault("127.0.0.1"), Options.withDescription("address to bind (default 127.0.0.1)"))
  },
  (o) =>
    Effect.gen(function*() {
      if (o.nodes < 1 || o.nodes > 9) return yield* fail(`--nodes must be 1 to 9, got ${o.nodes}`, 3)
      for (const p of [o.basePort, o.httpBasePort]) {
        if (p < 1 || p + o.nodes - 1 > 65535) return yield* fail(`port ${p} is out of range`, 3)
      }
      const l = layout(o.nodes, o.host, o.basePort, o.httpBasePort, o.data)
      for (let i = 0; i < o.nodes; i++) {
        for (const port of [o.basePort + i, o.httpBasePort + i]) {
          if (!(yield* portFree(o.host, port))) {
            return yield* fail(`port ${port} on ${o.host} is in use (a cluster already running? try --base-port/--http-base-port)`)
          }
        }
      }
      const tty = process.stdout.isTTY === true
      let statusLine = ""
      const print = (line: string) => {
        if (tty && statusLine !== "") process.stdout.write("\r\x1b[2K")
        process.stdout.write(line + "\n")
        if (tty && statusLine !== "") process.stdout.write(statusLine)
      }
      const children = yield* startNodes(l, o.host, (id, line) => print(`[${id}] ${line}`)).pipe(
        Effect.catchAll((message) => fail(message))
      )
      console.log(`\nConcord key/value cluster: ${o.nodes} node${o.nodes > 1 ? "s" : ""}, data in ${o.data}`)
      for (const id of Object.keys(l.peers)) console.log(`  ${id}  Raft/KV ${l.peers[id]}   HTTP http://${o.host}:${l.http[id]}`)
      const endpoints = Object.values(l.peers).join(",")
      const defaults = o.basePort === 7001 && o.nodes === 3 && o.host === "127.0.0.1"
      console.log(`\nTry, in another terminal:`)
      console.log(`  npx concord kv put hello world${defaults ? "" : ` --endpoints ${endpoints}`}`)
      console.log(`  npx concord kv get hello${defaults ? "" : ` --endpoints ${endpoints}`}`)
      console.log(`  curl -X PUT --data-binary world http://${o.host}:${o.httpBasePort}/v1/kv/hello`)
      console.log(`  curl http://${o.host}:${o.httpBasePort}/v1/status`)
      console.log(`Ctrl-C stops the cluster.\n`)

      for (const [id, child] of children) {
        yield* Effect.forkScoped(Deferred.await(child.exited).pipe(Effect.flatMap((e) => Effect.sync(() => print(`[${id}] ${describeExit(e)}`)))))
      }
      const transport = yield* Tcp.make({ self: "concord-cluster", peers: l.peers, callTimeout: "1 second" })
      const client = yield* KvClient.make({ servers: Object.keys(l.peers) }).pipe(Effect.provideService(Transport, transport))
      const watcher = yield* Effect.forkScoped(Effect.gen(function*() {
        let last = ""
        for (;;) {
          const line = summary(yield* statuses(client, Object.keys(l.peers)))
          if (tty) {
            statusLine = `status: ${line}`
            process.stdout.write(`\r\x1b[2K${statusLine}`)
          } else if (line !== last) {
            console.log(`status: ${line}`)
          }
          last = line
          yield* Effect.sleep("500 millis")
        }
      }))
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          if (tty) process.stdout.write("\n")
          console.log("stopping the cluster…")
        })
      )
      yield* Fiber.join(watcher)
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("run a local key/value cluster as child processes; Ctrl-C stops it"))

export const command = Command.make("cluster").pipe(
  Command.withDescription("local clusters"),
  Command.withSubcommands([up])
)
