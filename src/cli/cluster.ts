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
import { Deferred, Effect, Fiber } from "effect"
import * as KvClient from "../kv/KvClient.js"
import * as Tcp from "../rpc/Tcp.js"
import { Transport } from "../rpc/Transport.js"
import { describeExit, portFree } from "./internal/children.js"
import { layout, startNodes, statuses, summary } from "./internal/cluster.js"
import { ExitCode, fail as failWith } from "./internal/exit.js"
import { integerOption } from "./internal/flags.js"

const fail = (exitCode: number, message: string) => failWith("cluster up", exitCode, message)

const up = Command.make(
  "up",
  {
    nodes: integerOption("nodes", { min: 1, max: 9, fallback: 3, description: "number of nodes" }),
    data: Options.text("data").pipe(
      Options.withPseudoName("DIR"),
      Options.withDefault("./data"),
      Options.withDescription("data directory; node i uses <data>/n<i> (default ./data)")
    ),
    basePort: integerOption("base-port", {
      min: 1,
      max: 65535,
      fallback: 7001,
      placeholder: "PORT",
      description: "Raft/KV port of n1; n2 uses the next, and so on"
    }),
    httpBasePort: integerOption("http-base-port", {
      min: 1,
      max: 65535,
      fallback: 8001,
      placeholder: "PORT",
      description: "HTTP port of n1; n2 uses the next, and so on"
    }),
    host: Options.text("host").pipe(
      Options.withPseudoName("HOST"),
      Options.withDefault("127.0.0.1"),
      Options.withDescription("address to bind (default 127.0.0.1)")
    )
  },
  (o) =>
    Effect.gen(function*() {
      for (const p of [o.basePort, o.httpBasePort]) {
        if (p + o.nodes - 1 > 65535) return yield* fail(ExitCode.BadInput, `ports ${p} to ${p + o.nodes - 1} go past 65535`)
      }
      const l = layout(o.nodes, o.host, o.basePort, o.httpBasePort, o.data)
      for (let i = 0; i < o.nodes; i++) {
        for (const port of [o.basePort + i, o.httpBasePort + i]) {
          if (!(yield* portFree(o.host, port))) {
            return yield* fail(ExitCode.Failed, `port ${port} on ${o.host} is in use (a cluster already running? try --base-port/--http-base-port)`)
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
        Effect.catchAll((message) => fail(ExitCode.Failed, message))
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
