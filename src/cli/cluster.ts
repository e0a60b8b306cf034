/**
 * `concord cluster up`: a local key/value cluster as child processes, with a live status line.
 *
 *   concord cluster up [--nodes 3] [--data ./data] [--base-port 7001] [--http-base-port 8001]
 *
 * Node i (n1, n2, ...) serves Raft/KV on base-port + i - 1 and HTTP on http-base-port + i - 1, keeps
 * its data in <data>/n<i>, and binds 127.0.0.1. Ctrl-C (or SIGTERM) stops them all; the nodes also stop
 * by themselves if this process is killed (see `internal/children.ts`). A node that exits is started
 * again, after 1 s, then 2, 4, … up to 30 s while it keeps failing within 10 s of its start. `npm
 * start` runs this with the defaults, which are also the defaults of `concord kv get/put/...`.
 * @since 0.1.0
 */
import { Command, Options } from "@effect/cli"
import { Deferred, Effect, Fiber } from "effect"
import * as KvClient from "../kv/KvClient.js"
import * as Tcp from "../rpc/Tcp.js"
import { Transport } from "../rpc/Transport.js"
import { type Child, portFree, supervise } from "./internal/children.js"
import { layout, startNode, statuses, summary } from "./internal/cluster.js"
import { ExitCode, fail as failWith } from "./internal/exit.js"
import { makeConsole } from "./internal/console.js"
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
        const last = p + o.nodes - 1
        if (last > 65535) return yield* fail(ExitCode.BadInput, `ports ${p} to ${last} go past 65535`)
      }
      const l = layout(o.nodes, o.host, o.basePort, o.httpBasePort, o.data)
      for (let i = 0; i < o.nodes; i++) {
        for (const port of [o.basePort + i, o.httpBasePort + i]) {
          if (!(yield* portFree(o.host, port))) {
            return yield* fail(
              ExitCode.Failed,
              `port ${port} on ${o.host} is in use (a cluster already running? try --base-port/--http-base-port)`
            )
          }
        }
      }
      const out = makeConsole()
      const print = out.print
      const ids = Object.keys(l.peers)
      const firsts = yield* Effect.forEach(ids, () => Deferred.make<Child, string>())
      yield* Effect.forEach(ids, (id, i) => Effect.forkScoped(supervise(id, () => startNode(l, id, o.host, (node, line) => print(`[${node}] ${line}`)), print, firsts[i]!)), {
        discard: true
      })
      const children = yield* Effect.forEach(firsts, Deferred.await).pipe(
        Effect.catchAll((message) =>
          // What the nodes said before one failed explains it: show it, then the failure.
          Effect.zipRight(Effect.sync(out.dump), fail(ExitCode.Failed, message))
        )
      )
      const endpoints = Object.values(l.peers).join(",")
      console.log(`\nConcord key/value cluster: ${o.nodes} node${o.nodes > 1 ? "s" : ""}, data in ${o.data}`)
      ids.forEach((id, i) => {
        const pid = children[i]!.process.pid
        console.log(`  ${id}  Raft/KV ${l.peers[id]}   HTTP http://${o.host}:${l.http[id]}   pid ${pid}`)
      })
      console.log(`\nIn another terminal, in this checkout (or anywhere, once installed: npm i -g .):`)
      console.log(`  export CONCORD_ENDPOINTS=${endpoints}`)
      console.log(`  npx concord kv put hello world`)
      console.log(`  npx concord kv get hello`)
      console.log(`  curl -X PUT --data-binary world http://${o.host}:${o.httpBasePort}/v1/kv/hello`)
      console.log(`  curl http://${o.host}:${o.httpBasePort}/v1/status`)
      console.log(`A node that exits is restarted. Ctrl-C stops the cluster.\n`)
      out.release()

      const transport = yield* Tcp.make({ self: "concord-cluster", peers: l.peers, callTimeout: "1 second" })
      const client = yield* KvClient.make({ servers: ids }).pipe(Effect.provideService(Transport, transport))
      const watcher = yield* Effect.forkScoped(Effect.gen(function*() {
        for (;;) {
          out.status(summary(yield* statuses(client, ids)))
          yield* Effect.sleep("500 millis")
        }
      }))
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          out.end()
          console.log("stopping the cluster…")
        })
      )
      yield* Fiber.join(watcher)
    }).pipe(Effect.scoped)
).pipe(
  Command.withDescription("run a local key/value cluster as child processes (restarted if they exit); Ctrl-C stops it")
)

export const command = Command.make("cluster").pipe(
  Command.withDescription("local clusters"),
  Command.withSubcommands([up])
)
