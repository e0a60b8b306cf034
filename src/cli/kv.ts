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
import { Clock, Console, Data, Duration, Effect, Either, Option, Stream } from "effect"
import * as KvClient from "../kv/KvClient.js"
import * as KvNode from "../kv/KvNode.js"
import type { RaftEvent } from "../raft/Raft.js"
import * as RaftConfig from "../raft/RaftConfig.js"
import type { NodeStatus } from "../kv/Messages.js"
import * as Tcp from "../rpc/Tcp.js"
import { Transport } from "../rpc/Transport.js"
import { durationOption, invalid } from "./internal/flags.js"

export class KvExit extends Data.TaggedError("KvExit")<{ readonly exitCode: number }> {}

export const ExitCode = { Done: 0, Failed: 1, BadInput: 3 } as const

const fail = (exitCode: number, command: string, message: string) =>
  Console.error(`concord kv ${command}: ${message}`).pipe(Effect.zipRight(new KvExit({ exitCode })))

/** The embedded default cluster: three nodes on loopback (what `concord cluster up` starts). */
export const DEFAULT_PEERS = "n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003"
export const DEFAULT_ENDPOINTS = "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003"

const ADDRESS = /^[^\s:=,]+:\d{1,5}$/

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
    electionTimeout: durationOption(
      "election-timeout",
      `${RaftConfig.deployment.electionTimeoutMs}ms`,
      "Raft election timeout (randomized up to twice this)"
    ),
    heartbeat: durationOption("heartbeat", `${RaftConfig.deployment.heartbeatIntervalMs}ms`, "Raft heartbeat interval"),
    maxRaftState: Options.integer("max-raft-state").pipe(
      Options.withDefault(RaftConfig.deployment.maxRaftStateBytes),
      Options.withDescription(
        `snapshot when the Raft log reaches this many bytes; -1 never (default ${RaftConfig.deployment.maxRaftStateBytes})`
      )
    )
  },
  (o) =>
    Effect.gen(function*() {
      if (o.peers[o.id] === undefined) {
        return yield* fail(ExitCode.BadInput, "serve", `--id ${o.id} is not among --peers (${Object.keys(o.peers).join(", ")})`)
      }
      const dataDir = Option.getOrElse(o.data, () => `./data/${o.id}`)
      const ownPort = Number(o.peers[o.id]!.split(":").pop())
      const httpPort = o.noHttp ? undefined : Option.getOrElse(o.httpPort, () => ownPort + 1000)
      if (httpPort !== undefined && (httpPort < 0 || httpPort > 65535)) {
        return yield* fail(ExitCode.BadInput, "serve", `--http-port ${httpPort} is out of range`)
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
          rpcTimeoutMs: RaftConfig.rpcTimeoutFor(Duration.toMillis(o.electionTimeout))
        },
        kv: { maxRaftState: o.maxRaftState }
      }).pipe(
        Effect.catchTags({
          ListenError: (e) => fail(ExitCode.Failed, "serve", `${e.message} (another node or program uses that port?)`),
          StorageError: (e) => fail(ExitCode.Failed, "serve", e.message),
          CorruptLog: (e) => fail(ExitCode.Failed, "serve", e.message),
          ServeError: (e) => fail(ExitCode.Failed, "serve", `cannot serve HTTP on ${o.host}:${httpPort}: ${String(e.cause)}`)
        })
      )
      yield* Console.log(
        `concord kv serve: node ${o.id} of ${Object.keys(o.peers).join(",")} (cluster ${o.cluster}); ` +
          `Raft/KV on ${node.address.host}:${node.address.port}` +
          (node.httpPort === undefined ? "" : `, HTTP on http://${o.host}:${node.httpPort}`) +
          `; data in ${dataDir}`
      )
      yield* Effect.addFinalizer(() => Console.error(`concord kv serve: node ${o.id} stopped`))
      yield* Effect.forkScoped(logEvents(node, o.peers))
      return yield* Effect.never
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("run one node of a key/value cluster (stop it with Ctrl-C or SIGTERM)"))

/**
 * Logs what happens to this node (stderr), from its Raft event stream: leadership as it sees it,
 * peers that become unreachable or come back (a leader calls every follower each heartbeat), and
 * snapshots.
 */
const logEvents = (node: KvNode.KvNode, peers: Record<string, string>) =>
  Stream.runForEach(node.raft.events, (e) =>
    Effect.gen(function*() {
      const line = describeEvent(node.id, e, peers)
      if (line === undefined) return
      const t = new Date(yield* Clock.currentTimeMillis).toISOString().slice(11, 23)
      yield* Console.error(`${t} ${node.id}: ${line}`)
    }))

const describeEvent = (self: string, e: RaftEvent, peers: Record<string, string>): string | undefined => {
  switch (e._tag) {
    case "LeaderChanged":
      return e.leader === self ? undefined : e.leader === null ? `no leader (term ${e.term})` : `following ${e.leader} in term ${e.term}`
    case "RoleChanged":
      return e.role === "Leader" ? `leader in term ${e.term}` : undefined
    case "PeerUnreachable":
      return `peer ${e.peer} at ${peers[e.peer] ?? "?"} is unreachable (${e.detail})`
    case "PeerReachable":
      return `peer ${e.peer} at ${peers[e.peer] ?? "?"} is reachable again`
    case "SnapshotTaken":
      return `snapshot at index ${e.index} (${e.bytes} bytes); log compacted`
    case "SnapshotInstalled":
      return `installed the leader's snapshot at index ${e.index} (${e.bytes} bytes)`
  }
}

// -- client verbs ------------------------------------------------------------------------------------

const endpointsOption = Options.text("endpoints").pipe(
  Options.withDefault(DEFAULT_ENDPOINTS),
  Options.mapEffect((text) => {
    const list = text.split(",").map((e) => e.trim()).filter((e) => e.length > 0)
    const bad = list.find((e) => !ADDRESS.test(e))
    if (list.length === 0) return invalid("--endpoints: no endpoint")
    return bad === undefined ? Effect.succeed(list) : invalid(`--endpoints: "${bad}" is not host:port`)
  }),
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
    return yield* fail(ExitCode.Failed, command, `no endpoint reachable: ${errors.join("; ")}`)
  }).pipe(Effect.map((c) => ({ ...c, timeout })))

const keyArg = Args.text({ name: "key" }).pipe(Args.withDescription("the key"))
const valueArg = Args.text({ name: "value" }).pipe(Args.withDescription("the value"))

const clientVerb = <A>(
  name: string,
  description: string,
  run: (c: { client: KvClient.KvClientShape; timeout: Duration.Duration }, key: string, value: string) => Effect.Effect<A, KvClient.KvError>,
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
          Effect.catchTags({
            KvTimeout: (e) => fail(ExitCode.Failed, name, `${e.message}: no leader answered (has the cluster lost its majority?)`),
            InvalidRequest: (e) => fail(ExitCode.BadInput, name, e.message)
          })
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

/** Every node's status (undefined: unreachable), through one client transport. */
export const statuses = (client: KvClient.KvClientShape, ids: ReadonlyArray<string>) =>
  Effect.forEach(ids, (id) => Effect.map(Effect.either(client.status(id)), (r) => [id, Either.getOrUndefined(r)] as const), {
    concurrency: "unbounded"
  })

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

export const command = Command.make("kv").pipe(
  Command.withDescription("the replicated key/value service: run a node, or read and write a cluster"),
  Command.withSubcommands([serve, get, put, append, del, status])
)
