/**
 * What every `concord … serve` command shares (`kv serve`, `shard ctrl serve`, `shard serve`): the
 * node flags and their checks, the one-line errors of a node that cannot start, the listening line,
 * the log of the node's Raft events, and stopping with the launcher (`--exit-with-stdin`).
 * @internal
 */
import { Options } from "@effect/cli"
import { Clock, Console, Duration, Effect, Either, Option, type Scope, Stream } from "effect"
import type * as Raft from "../../raft/Raft.js"
import type * as ReplicaNode from "../../replica/ReplicaNode.js"
import * as RaftConfig from "../../raft/RaftConfig.js"
import { parsePeers } from "./cluster.js"
import { ExitCode, fail } from "./exit.js"
import { durationOption, integerOption, invalid } from "./flags.js"
import { nodeSecurity, nodeSecurityFlags, type NodeSecurityFlags } from "./security.js"

/** The flags of a node. `what` names its port ("Raft/KV"); `dataDefault` describes the data default. */
export const nodeFlags = (o: { readonly defaultPeers?: string; readonly dataDefault: string; readonly what: string }) => ({
  id: Options.text("id").pipe(Options.withPseudoName("ID"), Options.withDescription("this node's id; must be one of --peers")),
  peers: Options.text("peers").pipe(
    Options.withPseudoName("ID=HOST:PORT,..."),
    (p) => (o.defaultPeers === undefined ? p : Options.withDefault(p, o.defaultPeers)),
    Options.mapEffect((text) => Either.match(parsePeers(text), { onLeft: (m) => invalid(`--peers: ${m}`), onRight: Effect.succeed })),
    Options.withDescription(
      `every member, this node included; its own entry gives its ${o.what} port` +
        (o.defaultPeers === undefined ? "" : ` (default ${o.defaultPeers})`)
    )
  ),
  data: Options.text("data").pipe(
    Options.withPseudoName("DIR"),
    Options.optional,
    Options.withDescription(`data directory (log, snapshots); one process at a time may use it (default ${o.dataDefault})`)
  ),
  host: Options.text("host").pipe(
    Options.withPseudoName("HOST"),
    Options.withDefault("127.0.0.1"),
    Options.withDescription(`address to listen on, for ${o.what} and HTTP (default 127.0.0.1: this machine only)`)
  ),
  httpPort: integerOption("http-port", {
    min: 0,
    max: 65535,
    placeholder: "PORT",
    description: `HTTP API port; 0 picks a free one (default: the ${o.what} port + 1000)`
  }),
  noHttp: Options.boolean("no-http").pipe(Options.withDescription("do not serve the HTTP API")),
  cluster: Options.text("cluster").pipe(
    Options.withPseudoName("NAME"),
    Options.withDefault("concord"),
    Options.withDescription("cluster name, recorded in the data directory so it cannot be used by another cluster (default concord)")
  ),
  electionTimeout: durationOption(
    "election-timeout",
    `${RaftConfig.deployment.electionTimeoutMs}ms`,
    "Raft election timeout (randomized up to twice this)",
    { positive: true }
  ),
  heartbeat: durationOption("heartbeat", `${RaftConfig.deployment.heartbeatIntervalMs}ms`, "Raft heartbeat interval; less than the election timeout", {
    positive: true
  }),
  maxRaftState: integerOption("max-raft-state", {
    min: -1,
    fallback: RaftConfig.deployment.maxRaftStateBytes,
    placeholder: "BYTES",
    description: "snapshot when the Raft log reaches this many bytes (a key/value node: or its last snapshot's size, if larger); -1 never"
  }),
  ...nodeSecurityFlags,
  exitWithStdin: Options.boolean("exit-with-stdin").pipe(
    Options.withDescription(
      "stop when stdin closes: `cluster up`, `shard up` and `demo` start their nodes so, and a node then ends " +
        "with its launcher even when that is killed with SIGKILL"
    )
  )
})

export interface NodeFlags extends NodeSecurityFlags {
  readonly id: string
  readonly peers: Record<string, string>
  readonly data: Option.Option<string>
  readonly host: string
  readonly httpPort: Option.Option<number>
  readonly noHttp: boolean
  readonly cluster: string
  readonly electionTimeout: Duration.Duration
  readonly heartbeat: Duration.Duration
  readonly maxRaftState: number
  readonly exitWithStdin: boolean
}

/** The node flags checked together, with what follows from them: data directory, HTTP port, Raft timing. */
export const resolve = (command: string, o: NodeFlags, dataDefault: (id: string) => string) =>
  Effect.gen(function*() {
    if (o.exitWithStdin) {
      // The launcher reads our stdout and stderr; once it is gone, writes to them fail with EPIPE,
      // which must not crash the shutdown that follows (the lock file would stay behind).
      process.stdout.on("error", () => {})
      process.stderr.on("error", () => {})
    }
    if (o.peers[o.id] === undefined) {
      return yield* fail(command, ExitCode.BadInput, `--id ${o.id} is not among --peers (${Object.keys(o.peers).join(", ")})`)
    }
    if (Duration.greaterThanOrEqualTo(o.heartbeat, o.electionTimeout)) {
      const [h, e] = [o.heartbeat, o.electionTimeout].map(Duration.format)
      return yield* fail(command, ExitCode.BadInput, `--heartbeat (${h}) must be less than --election-timeout (${e})`)
    }
    const dataDir = Option.getOrElse(o.data, () => dataDefault(o.id))
    const ownPort = Number(o.peers[o.id]!.split(":").pop())
    const httpPort = o.noHttp ? undefined : Option.getOrElse(o.httpPort, () => ownPort + 1000)
    if (httpPort !== undefined && httpPort > 65535) {
      return yield* fail(command, ExitCode.BadInput, `the HTTP port (port + 1000 = ${httpPort}) is out of range; give --http-port`)
    }
    const raft = {
      electionTimeoutMs: Duration.toMillis(o.electionTimeout),
      heartbeatIntervalMs: Duration.toMillis(o.heartbeat),
      rpcTimeoutMs: RaftConfig.rpcTimeoutFor(Duration.toMillis(o.electionTimeout))
    }
    const security = yield* nodeSecurity(command, o)
    return { dataDir, httpPort, raft, ...(security === undefined ? {} : { security }) }
  })

/** The HTTP API's address as a URL (https with TLS). */
export const httpUrl = (host: string, port: number, security: ReplicaNode.Security | undefined) =>
  `${security?.tls === undefined ? "http" : "https"}://${host}:${port}`

/** The one-line errors of a node that cannot start. */
export const startErrors = (command: string, host: string, httpPort: number | undefined) => ({
  ListenError: (e: { readonly message: string }) => fail(command, ExitCode.Failed, `${e.message} (another node or program uses that port?)`),
  StorageError: (e: { readonly message: string }) => fail(command, ExitCode.Failed, e.message),
  CorruptLog: (e: { readonly message: string }) => fail(command, ExitCode.Failed, e.message),
  TlsError: (e: { readonly message: string }) => fail(command, ExitCode.BadInput, `${e.message} (--tls-cert/--tls-key/--tls-ca)`),
  ServeError: (e: { readonly detail: string }) => fail(command, ExitCode.Failed, `cannot serve HTTP on ${host}:${httpPort}: ${e.detail}`)
})

/**
 * Runs a started node until it is stopped: prints `banner` (its listening line) on stdout, logs its
 * Raft events on stderr, and with `--exit-with-stdin` stops when stdin closes.
 */
export const run = (
  command: string,
  o: NodeFlags,
  node: { readonly id: string; readonly raft: Raft.RaftShape },
  banner: string
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    yield* Console.log(`concord ${command}: ${banner}`)
    yield* Effect.addFinalizer(() => Console.error(`concord ${command}: node ${o.id} stopped`))
    yield* Effect.forkScoped(logEvents(node, o.peers))
    if (!o.exitWithStdin) return yield* Effect.never
    yield* stdinClosed
    yield* Console.error(`concord ${command}: stdin closed (the process that started this node is gone); stopping`)
  })

/**
 * Completes when stdin reaches its end. A launcher that gives its child a pipe as stdin and never
 * writes to it holds the pipe's only write end: when the launcher exits, however it dies, the kernel
 * closes that end and the child reads end-of-file.
 */
const stdinClosed = Effect.async<void>((resume) => {
  const done = () => resume(Effect.void)
  process.stdin.once("end", done).once("close", done).once("error", done)
  process.stdin.resume()
  return Effect.sync(() => {
    process.stdin.off("end", done).off("close", done).off("error", done)
    process.stdin.pause()
  })
})

/**
 * Logs what happens to this node (stderr), from its Raft event stream: leadership as it sees it,
 * peers that become unreachable or come back (a leader calls every follower each heartbeat), and
 * snapshots.
 */
export const logEvents = (node: { readonly id: string; readonly raft: Raft.RaftShape }, peers: Record<string, string>) =>
  Stream.runForEach(node.raft.events, (e) =>
    Effect.gen(function*() {
      const line = describeEvent(node.id, e, peers)
      if (line === undefined) return
      const t = new Date(yield* Clock.currentTimeMillis).toISOString().slice(11, 23)
      yield* Console.error(`${t} ${node.id}: ${line}`)
    }))

const describeEvent = (self: string, e: Raft.RaftEvent, peers: Record<string, string>): string | undefined => {
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
    case "MembershipChanged":
      return `configuration ${e.index}: voters ${e.membership.voters.join(",") || "-"}` +
        (e.membership.learners.length > 0 ? `, learners ${e.membership.learners.join(",")}` : "")
    case "Removed":
      return `removed from the cluster (configuration ${e.index})`
  }
}
