/**
 * `concord cluster up`: a local key/value cluster as child processes, with a live status line.
 *
 *   concord cluster up [--nodes 3] [--data ./data] [--base-port 7001] [--http-base-port 8001] [--tls]
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
import { readFileSync } from "node:fs"
import { Transport } from "../rpc/Transport.js"
import { type Child, portFree, supervise } from "./internal/children.js"
import { layout, startNode, statuses, summary } from "./internal/cluster.js"
import { ExitCode, fail as failWith } from "./internal/exit.js"
import { makeConsole } from "./internal/console.js"
import * as Certs from "./internal/certs.js"
import { integerOption } from "./internal/flags.js"
import { clientTransport } from "./internal/security.js"

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
    ),
    tls: Options.boolean("tls").pipe(
      Options.withDescription("secure the cluster: mutual TLS between nodes, TLS for clients, HTTPS; certificates made in <data>/certs")
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
      const ids = Object.keys(l.peers)
      const certs = o.tls ? yield* tlsCertificates(`${o.data}/certs`, ids, o.host) : undefined
      const tlsArgs = (id: string): ReadonlyArray<string> =>
        certs === undefined ? [] : ["--tls-cert", certs.nodes[id]!.cert, "--tls-key", certs.nodes[id]!.key, "--tls-ca", certs.ca]
      const scheme = certs === undefined ? "http" : "https"
      const out = makeConsole()
      const print = out.print
      const firsts = yield* Effect.forEach(ids, () => Deferred.make<Child, string>())
      yield* Effect.forEach(ids, (id, i) => Effect.forkScoped(supervise(id, () => startNode(l, id, o.host, (node, line) => print(`[${node}] ${line}`), tlsArgs(id)), print, firsts[i]!)), {
        discard: true
      })
      const children = yield* Effect.forEach(firsts, Deferred.await).pipe(
        Effect.catchAll((message) =>
          // What the nodes said before one failed explains it: show it, then the failure.
          Effect.zipRight(Effect.sync(out.dump), fail(ExitCode.Failed, message))
        )
      )
      const endpoints = Object.values(l.peers).join(",")
      console.log(
        `\nConcord key/value cluster: ${o.nodes} node${o.nodes > 1 ? "s" : ""}, data in ${o.data}` +
          (certs === undefined ? "" : `; mutual TLS between nodes, TLS for clients (certificates in ${certs.dir})`)
      )
      ids.forEach((id, i) => {
        const pid = children[i]!.process.pid
        console.log(`  ${id}  Raft/KV ${l.peers[id]}   HTTP ${scheme}://${o.host}:${l.http[id]}   pid ${pid}`)
      })
      console.log(`\nIn another terminal, in this checkout (or anywhere, once installed: npm i -g .):`)
      console.log(`  export CONCORD_ENDPOINTS=${endpoints}`)
      if (certs !== undefined) console.log(`  export CONCORD_TLS_CA=${certs.ca}`)
      console.log(`  npx concord kv put hello world`)
      console.log(`  npx concord kv get hello`)
      const curl = certs === undefined ? "curl" : `curl --cacert ${certs.ca}`
      console.log(`  ${curl} -X PUT --data-binary world ${scheme}://${o.host}:${o.httpBasePort}/v1/kv/hello`)
      console.log(`  ${curl} ${scheme}://${o.host}:${o.httpBasePort}/v1/status`)
      console.log(`A node that exits is restarted. Ctrl-C stops the cluster.\n`)
      out.release()

      const security = certs === undefined ? {} : { tls: { ca: readFileSync(certs.ca, "utf8") } }
      const transport = yield* clientTransport("cluster up", security, { self: "concord-cluster", peers: l.peers, callTimeout: "1 second" })
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

/**
 * The certificates of a `--tls` cluster in `dir`: those made by an earlier run if they are all there,
 * else new ones (for `host` too, if it is not loopback).
 */
const tlsCertificates = (dir: string, ids: ReadonlyArray<string>, host: string) =>
  Certs.complete(dir, ids)
    ? Effect.succeed(Certs.files(dir, ids))
    : Certs.create({ dir, nodes: ids, hosts: host === "127.0.0.1" || host === "localhost" ? [] : [host] }).pipe(
      Effect.catchAll((m) => fail(ExitCode.Failed, `cannot make the TLS certificates: ${m}`))
    )

export const command = Command.make("cluster").pipe(
  Command.withDescription("local clusters"),
  Command.withSubcommands([up])
)
