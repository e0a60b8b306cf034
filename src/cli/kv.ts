/**
 * `concord kv`: run a key/value node, or talk to a cluster.
 *
 *   concord kv serve --id n1 [--peers n1=127.0.0.1:7001,...] [--data ./data/n1] [--http-port 8001]
 *   concord kv get KEY | put KEY VALUE | append KEY VALUE | del KEY | status   [--endpoints host:port,...]
 *
 * Exit codes: 0 done; 1 the operation could not be done (no endpoint reachable, no leader within the
 * timeout, a port in use, a data directory that belongs to another node, a corrupt log); 3 bad input
 * (a bad flag or value). Errors are one line on stderr.
 * @since 0.1.0
 */
import { Args, Command, Options } from "@effect/cli"
import { Clock, Console, Duration, Effect, Either, Option } from "effect"
import * as KvClient from "../kv/KvClient.js"
import * as KvNode from "../kv/KvNode.js"
import * as Tcp from "../rpc/Tcp.js"
import { Transport } from "../rpc/Transport.js"
import { DEFAULT_ENDPOINTS, DEFAULT_PEERS, formatStatus, parseEndpoints, parsePeers, statuses } from "./internal/cluster.js"
import { ExitCode, fail } from "./internal/exit.js"
import { durationOption, invalid } from "./internal/flags.js"

// -- serve -------------------------------------------------------------------------------------------

const serve = Command.make(
  "serve",
  {
    id: Options.text("id").pipe(Options.withDescription("this node's id; must be one of --peers")),
    peers: Options.text("peers").pipe(
      Options.withDefault(DEFAULT_PEERS),
      Options.mapEffect((text) => Either.match(parsePeers(text), { onLeft: (m) => invalid(`--peers: ${m}`), onRight: Effect.succeed })),
      Options.withDescription(`every member as id=host:port, this node included; its own entry gives its Raft/KV port (default ${DEFAULT_PEERS})`)
    ),
    data: Options.text("data").pipe(
      Options.optional,
      Options.withDescription("data directory (log, snapshots) (default ./data/<id>)")
    ),
    host: Options.text("host").pipe(
      Options.withDefault("127.0.0.1"),
      Options.withDescription("address to listen on, for Raft/KV and HTTP (default 127.0.0.1: this machine only)")
    ),
    httpPort: Options.integer("http-port").pipe(
      Options.optional,
      Options.withDescription("HTTP API port; 0 picks a free one (default: the Raft/KV port + 1000)")
    ),
    noHttp: Options.boolean("no-http").pipe(Options.withDescription("do not serve the HTTP API")),
    cluster: Options.text("cluster").pipe(
      Options.withDefault("concord"),
      Options.withDescription("cluster name, recorded in the data directory so it cannot be used by another cluster (default concord)")
    ),
    electionTimeout: durationOption("election-timeout", "300ms", "Raft election timeout (randomized up to twice this)"),
    heartbeat: durationOption("heartbeat", "50ms", "Raft heartbeat interval"),
    maxRaftState: Options.integer("max-raft-state").pipe(
      Options.withDefault(8 * 1024 * 1024),
      Options.withDescription("snapshot when the Raft log reaches this many bytes; -1 never (default 8388608)")
    )
  },
  (o) =>
    Effect.gen(function*() {
      if (o.peers[o.id] === undefined) {
        return yield* fail("kv serve", ExitCode.BadInput, `--id ${o.id} is not among --peers (${Object.keys(o.peers).join(", ")})`)
      }
      const dataDir = Option.getOrElse(o.data, () => `./data/${o.id}`)
      const ownPort = Number(o.peers[o.id]!.split(":").pop())
      const httpPort = o.noHttp ? undefined : Option.getOrElse(o.httpPort, () => ownPort + 1000)
      if (httpPort !== undefined && (httpPort < 0 || httpPort > 65535)) {
        return yield* fail("kv serve", ExitCode.BadInput, `--http-port ${httpPort} is out of range`)
      }
      const node = yield* KvNode.make({
        id: o.id,
        peers: o.peers,
        dataDir,
        clusterId: o.cluster,
        host: o.host,
        ...(httpPort === undefined ? {} : { httpPort }),
        raft: {
          electionTimeoutMs: Duration.toMillis(o.electionTimeout),
          heartbeatIntervalMs: Duration.toMillis(o.heartbeat),
          rpcTimeoutMs: Math.max(200, 2 * Duration.toMillis(o.electionTimeout))
        },
        kv: { maxRaftState: o.maxRaftState }
      }).pipe(
        Effect.catchTags({
          ListenError: (e) => fail("kv serve", ExitCode.Failed, `${e.message} (another node or program uses that port?)`),
          StorageError: (e) => fail("kv serve", ExitCode.Failed, e.message),
          CorruptLog: (e) => fail("kv serve", ExitCode.Failed, e.message),
          ServeError: (e) => fail("kv serve", ExitCode.Failed, `cannot serve HTTP on ${o.host}:${httpPort}: ${String(e.cause)}`)
        })
      )
      yield* Console.log(
        `concord kv serve: node ${o.id} of ${Object.keys(o.peers).join(",")} (cluster ${o.cluster}); ` +
          `Raft/KV on ${node.address.host}:${node.address.port}` +
          (node.httpPort === undefined ? "" : `, HTTP on http://${o.host}:${node.httpPort}`) +
          `; data in ${dataDir}`
      )
      yield* Effect.addFinalizer(() => Console.error(`concord kv serve: node ${o.id} stopped`))
      yield* Effect.forkScoped(watchRole(node))
      yield* Effect.forkScoped(watchPeers(node, o.peers))
      return yield* Effect.never
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("run one node of a key/value cluster (stop it with Ctrl-C or SIGTERM)"))

/** Logs this node's leadership changes (stderr). */
const watchRole = (node: KvNode.KvNode) =>
  Effect.gen(function*() {
    let last = ""
    for (;;) {
      const s = yield* node.raft.status
      const now = s.role === "Leader" ? `leader in term ${s.term}` : s.leader === null ? `no leader (term ${s.term})` : `following ${s.leader} in term ${s.term}`
      if (now !== last) {
        const t = new Date(yield* Clock.currentTimeMillis).toISOString().slice(11, 23)
        yield* Console.error(`${t} ${node.id}: ${now}`)
        last = now
      }
      yield* Effect.sleep("100 millis")
    }
  })

/** Logs when a peer becomes unreachable and when it comes back (stderr), checking every 2 s. */
const watchPeers = (node: KvNode.KvNode, peers: Record<string, string>) =>
  Effect.gen(function*() {
    const client = yield* KvClient.make({ servers: Object.keys(peers), callTimeout: "1 second" }).pipe(
      Effect.provideService(Transport, node.transport)
    )
    const reachable = new Map<string, boolean>()
    for (;;) {
      yield* Effect.sleep("2 seconds")
      for (const id of Object.keys(peers)) {
        if (id === node.id) continue
        const r = yield* Effect.either(client.status(id))
        const up = Either.isRight(r)
        if (reachable.get(id) !== up) {
          if (!up || reachable.has(id)) {
            yield* Console.error(
              up ? `${node.id}: peer ${id} at ${peers[id]} is reachable again`
                : `${node.id}: peer ${id} at ${peers[id]} is unreachable (${Either.isLeft(r) ? r.left.detail : ""})`
            )
          }
          reachable.set(id, up)
        }
      }
    }
  })

// -- client verbs ------------------------------------------------------------------------------------

const endpointsOption = Options.text("endpoints").pipe(
  Options.withDefault(DEFAULT_ENDPOINTS),
  Options.mapEffect((text) =>
    Either.match(parseEndpoints(text), { onLeft: (m) => invalid(`--endpoints: ${m}`), onRight: Effect.succeed })
  ),
  Options.withDescription(`Raft/KV addresses of any of the cluster's nodes (default ${DEFAULT_ENDPOINTS})`)
)
const timeoutOption = durationOption("timeout", "5s", "give up after this long")

/** Learns the cluster's members from any reachable endpoint, and a client over TCP to it. */
const connect = (command: string, endpoints: ReadonlyArray<string>, timeout: Duration.Duration) =>
  Effect.gen(function*() {
    const transport = yield* Tcp.make({ self: `concord-cli`, callTimeout: "1 second" })
    const errors: Array<string> = []
    for (const endpoint of endpoints) {
      const status = yield* Effect.either(
        KvClient.make({ servers: [endpoint] }).pipe(
          Effect.flatMap((c) => c.status(endpoint)),
          Effect.provideService(Transport, transport)
        )
      )
      if (Either.isRight(status)) {
        const peers = Object.keys(status.right.peers).length > 0 ? status.right.peers : { [status.right.id]: endpoint }
        const cluster = yield* Tcp.make({ self: "concord-cli", peers, callTimeout: "1 second" })
        const client = yield* KvClient.make({ servers: Object.keys(peers), callTimeout: "1 second" }).pipe(
          Effect.provideService(Transport, cluster)
        )
        return { client, peers, first: status.right }
      }
      errors.push(`${endpoint} (${status.left.detail})`)
    }
    return yield* fail(`kv ${command}`, ExitCode.Failed, `no endpoint reachable: ${errors.join("; ")}`)
  }).pipe(Effect.map((c) => ({ ...c, timeout })))

const keyArg = Args.text({ name: "key" }).pipe(Args.withDescription("the key"))
const valueArg = Args.text({ name: "value" }).pipe(Args.withDescription("the value"))

const clientVerb = <A>(
  name: string,
  description: string,
  run: (c: { client: KvClient.KvClientShape; timeout: Duration.Duration }, key: string, value: string) => Effect.Effect<A, KvClient.KvTimeout>,
  print: (a: A) => string,
  withValue: boolean
) =>
  Command.make(
    name,
    withValue
      ? { endpoints: endpointsOption, timeout: timeoutOption, key: keyArg, value: valueArg }
      : { endpoints: endpointsOption, timeout: timeoutOption, key: keyArg },
    (o: { endpoints: ReadonlyArray<string>; timeout: Duration.Duration; key: string; value?: string }) =>
      Effect.gen(function*() {
        const c = yield* connect(name, o.endpoints, o.timeout)
        const a = yield* run(c, o.key, o.value ?? "").pipe(
          Effect.catchTag("KvTimeout", (e) =>
            fail(`kv ${name}`, ExitCode.Failed, `${e.message}: no leader answered (has the cluster lost its majority?)`))
        )
        yield* Console.log(print(a))
      }).pipe(Effect.scoped)
  ).pipe(Command.withDescription(description))

const get = clientVerb("get", "print the value of KEY (empty if it has none)", (c, key) => c.client.get(key, { timeout: c.timeout }), (v) => v, false)
const put = clientVerb("put", "set KEY to VALUE", (c, key, value) => c.client.put(key, value, { timeout: c.timeout }), () => "OK", true)
const append = clientVerb("append", "append VALUE to KEY's value", (c, key, value) => c.client.append(key, value, { timeout: c.timeout }), () => "OK", true)
const del = clientVerb("del", "delete KEY", (c, key) => c.client.delete(key, { timeout: c.timeout }), () => "OK", false)

const status = Command.make("status", { endpoints: endpointsOption, timeout: timeoutOption }, (o) =>
  Effect.gen(function*() {
    const c = yield* connect("status", o.endpoints, o.timeout)
    yield* Console.log(formatStatus(c.peers, yield* statuses(c.client, Object.keys(c.peers))))
  }).pipe(Effect.scoped)).pipe(Command.withDescription("show every node: role, term, leader, commit and applied index, log size"))

export const command = Command.make("kv").pipe(
  Command.withDescription("the replicated key/value service: run a node, or read and write a cluster"),
  Command.withSubcommands([serve, get, put, append, del, status])
)
