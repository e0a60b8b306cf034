/**
 * `concord kv`: run a key/value node, or talk to a cluster.
 *
 *   concord kv serve --id n1 [--peers n1=127.0.0.1:7001,...] [--data ./data/n1] [--http-port 8001]
 *   concord kv serve --id n4 --peers n4=127.0.0.1:7004 --join 127.0.0.1:7001,...   (a node joining a running cluster)
 *   concord kv get KEY | put KEY VALUE | append KEY VALUE | del KEY | status   [--endpoints host:port,...]
 *   concord kv snapshot save FILE [--endpoints ...] | snapshot restore FILE --data DIR --id ID --peers ...
 *   concord kv member list | add ID=HOST:PORT | promote ID | remove ID      concord kv transfer-leader ID
 *
 * The client verbs find the cluster through `--endpoints`, else `$CONCORD_ENDPOINTS`, else the local
 * default cluster, and keep trying to reach a node until `--timeout`, so that a script can start a
 * cluster and use it at once. `put` and `append` take the value as an argument, `-` for stdin, or
 * `--file PATH`.
 *
 * Exit codes: 0 done; 1 the operation could not be done (no endpoint reachable, no leader within the
 * timeout, a port in use, a data directory that belongs to another node or is in use by another
 * process, a corrupt log); 3 bad input (a bad flag or value). Errors are one line on stderr.
 * @since 0.1.0
 */
import { Args, Command, Options } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import { Clock, Config, Console, Duration, Effect, Either, Option } from "effect"
import * as Members from "../kv/Members.js"
import type { MembersView } from "../kv/Messages.js"
import type { RaftShape } from "../raft/Raft.js"
import * as KvClient from "../kv/KvClient.js"
import * as KvNode from "../kv/KvNode.js"
import * as Kv from "../kv/KvStateMachine.js"
import * as Backup from "../ops/Backup.js"
import { OpsSnapshot } from "../ops/Messages.js"
import * as Clerk from "../replica/Clerk.js"
import { writeFileAtomic } from "../storage/internal/files.js"
import { InvalidRequest } from "../replica/Messages.js"
import * as ReplicaNode from "../replica/ReplicaNode.js"
import type * as Tcp from "../rpc/Tcp.js"
import { Transport } from "../rpc/Transport.js"
import { DEFAULT_ENDPOINTS, DEFAULT_PEERS, formatStatus, parseEndpoints, parsePeers, statuses } from "./internal/cluster.js"
import { ExitCode, fail } from "./internal/exit.js"
import { durationOption } from "./internal/flags.js"
import * as NodeServe from "./internal/serve.js"
import { fileOption, keyArg, readValue, valueArg } from "./internal/values.js"
import { nodeFlags } from "./internal/serve.js"
import { type ClientSecurityFlags, clientSecurity, clientSecurityFlags, clientTransport, describeNodeSecurity } from "./internal/security.js"

// -- serve -------------------------------------------------------------------------------------------

const joinOption = Options.text("join").pipe(
  Options.withPseudoName("HOST:PORT,..."),
  Options.optional,
  Options.withDescription(
    "join a running cluster through any of these members (Raft/KV addresses) instead of bootstrapping one from " +
      "--peers, which then needs only this node's own entry; add it with `concord kv member add` (also the way back " +
      "for a node whose disk was lost: never restart such a node with the bootstrap --peers)"
  )
)

/** The members' addresses as `joining` sees them (retrying until a member answers). */
const fetchMembers = (joining: string, timeout: Duration.Duration, security: Pick<Tcp.Options, "tls" | "auth">) =>
  Effect.gen(function*() {
    const endpoints = yield* Either.match(parseEndpoints(joining), {
      onLeft: (m) => fail("kv serve", ExitCode.BadInput, `--join: ${m}`),
      onRight: Effect.succeed
    })
    // With this node's own credentials: its certificate or the cluster secret make it a member's peer.
    const transport = yield* clientTransport("kv serve", security, { self: "concord-join", callTimeout: "1 second" })
    const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(timeout)
    for (;;) {
      const r = yield* Effect.either(Members.view(endpoints).pipe(Effect.provideService(Transport, transport)))
      if (Either.isRight(r)) return r.right
      if ((yield* Clock.currentTimeMillis) >= deadline) {
        return yield* fail("kv serve", ExitCode.Failed, `--join: no member reachable within ${Duration.format(timeout)}: ${r.left.message}`)
      }
      yield* Effect.sleep(Duration.millis(RETRY_PAUSE_MS))
    }
  }).pipe(Effect.scoped)

/** Completes once this node is out of the cluster: a committed configuration without it, after it was a member. */
const removal = (node: { readonly id: string; readonly raft: RaftShape }) =>
  Effect.gen(function*() {
    let wasMember = false
    for (;;) {
      const m = yield* node.raft.members
      const member = m.members.some((x) => x.id === node.id)
      if (member) wasMember = true
      else if (wasMember && m.committed) return m.index
      yield* Effect.sleep("200 millis")
    }
  })

const serve = Command.make(
  "serve",
  { ...nodeFlags({ defaultPeers: DEFAULT_PEERS, dataDefault: "./data/<id>", what: "Raft/KV" }), join: joinOption },
  (o) =>
    Effect.gen(function*() {
      const { dataDir, httpPort, raft, security } = yield* NodeServe.resolve("kv serve", o, (id) => `./data/${id}`)
      let peers = o.peers
      let joined: MembersView | undefined
      if (Option.isSome(o.join)) {
        joined = yield* fetchMembers(o.join.value, Duration.seconds(10), ReplicaNode.transportSecurity(security, []))
        const known: Record<string, string> = {}
        for (const m of joined.members) if (m.address !== null) known[m.id] = m.address
        peers = { ...known, [o.id]: o.peers[o.id]! }
      }
      const node = yield* KvNode.make({
        id: o.id,
        peers,
        ...(joined === undefined ? {} : { join: true }),
        dataDir,
        clusterId: o.cluster,
        host: o.host,
        ...(httpPort === undefined ? {} : { httpPort }),
        raft,
        ...(security === undefined ? {} : { security }),
        kv: { maxRaftState: o.maxRaftState }
      }).pipe(Effect.catchTags(NodeServe.startErrors("kv serve", o.host, httpPort)))
      const role = joined === undefined
        ? `node ${o.id} of ${Object.keys(o.peers).join(",")}`
        : joined.members.some((m) => m.id === o.id)
        ? `node ${o.id} joining ${joined.members.map((m) => m.id).join(",")}`
        : `node ${o.id} joining ${joined.members.map((m) => m.id).join(",")} (not a member yet: ` +
          `concord kv member add ${o.id}=${o.peers[o.id]})`
      const removed = yield* Effect.raceFirst(
        Effect.as(
          NodeServe.run(
            "kv serve",
            { ...o, peers },
            node,
            `${role} (cluster ${o.cluster}); ` +
              `Raft/KV on ${node.address.host}:${node.address.port}` +
              (node.httpPort === undefined ? "" : `, HTTP on ${NodeServe.httpUrl(o.host, node.httpPort, security)}`) +
              `; data in ${dataDir}` + describeNodeSecurity(security)
          ),
          undefined
        ),
        removal(node)
      )
      if (removed !== undefined) {
        yield* Console.error(`concord kv serve: node ${o.id} was removed from the cluster (configuration ${removed}); exiting`)
      }
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("run one node of a key/value cluster (stop it with Ctrl-C or SIGTERM)"))

// -- client verbs ------------------------------------------------------------------------------------

const endpointsOption = Options.text("endpoints").pipe(
  Options.withPseudoName("HOST:PORT,..."),
  Options.optional,
  Options.withDescription(
    `Raft/KV addresses of any of the cluster's nodes (default: $CONCORD_ENDPOINTS, else ${DEFAULT_ENDPOINTS})`
  )
)
const timeoutOption = durationOption(
  "timeout",
  "5s",
  "give up after this long, waiting for a node to answer (it may still be starting) and for a leader",
  { positive: true }
)

interface ClusterFlags extends ClientSecurityFlags {
  readonly endpoints: Option.Option<string>
  readonly timeout: Duration.Duration
}

/** The endpoints to try: `--endpoints`, else `$CONCORD_ENDPOINTS`, else the default local cluster's. */
const endpointsOf = (command: string, flag: Option.Option<string>) =>
  Effect.gen(function*() {
    const env = yield* Config.option(Config.string("CONCORD_ENDPOINTS")).pipe(
      Effect.orElseSucceed(() => Option.none<string>())
    )
    const [source, text] = Option.isSome(flag)
      ? ["--endpoints", flag.value]
      : Option.isSome(env) && env.value.trim() !== ""
      ? ["CONCORD_ENDPOINTS", env.value]
      : ["the default endpoints", DEFAULT_ENDPOINTS]
    return yield* Either.match(parseEndpoints(text), {
      onLeft: (m) => fail(`kv ${command}`, ExitCode.BadInput, `${source}: ${m}`),
      onRight: (list) => Effect.succeed({ list, source })
    })
  })

const RETRY_PAUSE_MS = 200

/**
 * Learns the cluster's members from the first endpoint that answers, and makes a client of them. Keeps
 * trying every endpoint until `timeout` (a node that is starting refuses connections for a moment);
 * the client's operations get what is left of it.
 */
const connect = (command: string, o: ClusterFlags) =>
  Effect.gen(function*() {
    const endpoints = yield* endpointsOf(command, o.endpoints)
    const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(o.timeout)
    const security = yield* clientSecurity(`kv ${command}`, o)
    const transport = yield* clientTransport(`kv ${command}`, security, { self: `concord-cli`, callTimeout: "1 second" })
    const probe = yield* KvClient.make({ servers: endpoints.list }).pipe(Effect.provideService(Transport, transport))
    for (;;) {
      const errors: Array<string> = []
      for (const endpoint of endpoints.list) {
        const status = yield* Effect.either(probe.status(endpoint))
        if (Either.isRight(status)) {
          const peers = Object.keys(status.right.peers).length > 0 ? status.right.peers : { [status.right.id]: endpoint }
          const cluster = yield* clientTransport(`kv ${command}`, security, { self: "concord-cli", peers, callTimeout: "1 second" })
          const client = yield* KvClient.make({ servers: Object.keys(peers), callTimeout: "1 second" }).pipe(
            Effect.provideService(Transport, cluster)
          )
          const left = Math.max(1, deadline - (yield* Clock.currentTimeMillis))
          return { client, peers, security, timeout: Duration.millis(left) }
        }
        const detail = status.left.detail
        if (status.left.reason === "Unauthorized") {
          return yield* fail(`kv ${command}`, ExitCode.Failed, `${endpoint} refused this client: ${detail}`)
        }
        errors.push(`${endpoint} (${detail.startsWith(`${endpoint}: `) ? detail.slice(endpoint.length + 2) : detail})`)
      }
      if ((yield* Clock.currentTimeMillis) + RETRY_PAUSE_MS >= deadline) {
        const from = endpoints.source === "--endpoints" ? "" : ` (${endpoints.source})`
        // A TLS node closes a plain connection at once.
        const hint = security.tls === undefined && errors.some((e) => e.includes("connection closed")) ? " (a TLS cluster? give --tls-ca)" : ""
        return yield* fail(
          `kv ${command}`,
          ExitCode.Failed,
          `no endpoint reachable within ${Duration.format(o.timeout)}${from}: ${errors.join("; ")}${hint}`
        )
      }
      yield* Effect.sleep(Duration.millis(RETRY_PAUSE_MS))
    }
  })

interface Connection {
  readonly client: KvClient.KvClientShape
  /** What is left of `--timeout`. */
  readonly timeout: Duration.Duration
  readonly peers: Record<string, string>
  /** The client's TLS and token, for another transport to the same cluster. */
  readonly security: Pick<Tcp.Options, "tls" | "auth">
}

/** Runs `use` with a client of the cluster, turning a timeout into a one-line error. */
const withCluster = <A, E, R>(
  command: string,
  o: ClusterFlags,
  use: (c: Connection) => Effect.Effect<A, E | KvClient.KvError, R>
) =>
  Effect.scoped(Effect.flatMap(connect(command, o), use)).pipe(
    Effect.catchIf(
      (e): e is KvClient.KvError => e instanceof KvClient.KvTimeout || e instanceof InvalidRequest || e instanceof KvClient.Unauthorized,
      (e) =>
        e instanceof InvalidRequest
          ? fail(`kv ${command}`, ExitCode.BadInput, e.message)
          : e instanceof KvClient.Unauthorized
          ? fail(`kv ${command}`, ExitCode.Failed, e.message)
          : fail(`kv ${command}`, ExitCode.Failed, `${e.message}: no leader answered (has the cluster lost its majority?)`)
    )
  )

const get = Command.make("get", { endpoints: endpointsOption, timeout: timeoutOption, ...clientSecurityFlags, key: keyArg }, (o) =>
  withCluster("get", o, (c) => Effect.flatMap(c.client.get(o.key, { timeout: c.timeout }), Console.log))
).pipe(Command.withDescription("print the value of KEY (empty if it has none)"))

const del = Command.make("del", { endpoints: endpointsOption, timeout: timeoutOption, ...clientSecurityFlags, key: keyArg }, (o) =>
  withCluster("del", o, (c) => Effect.zipRight(c.client.delete(o.key, { timeout: c.timeout }), Console.log("OK")))
).pipe(Command.withDescription("delete KEY"))

const write = (name: "put" | "append", description: string) =>
  Command.make(
    name,
    { endpoints: endpointsOption, timeout: timeoutOption, ...clientSecurityFlags, file: fileOption, key: keyArg, value: valueArg },
    (o) =>
      Effect.flatMap(readValue(`kv ${name}`, o.value, o.file), (value) =>
        withCluster(name, o, (c) =>
          Effect.zipRight(c.client[name](o.key, value, { timeout: c.timeout }), Console.log("OK"))))
  ).pipe(Command.withDescription(description))

const put = write("put", "set KEY to VALUE (or to stdin with -, or to a file's contents with --file)")
const append = write("append", "append VALUE (or stdin with -, or a file's contents with --file) to KEY's value")

const status = Command.make("status", { endpoints: endpointsOption, timeout: timeoutOption, ...clientSecurityFlags }, (o) =>
  withCluster("status", o, (c) =>
    Effect.flatMap(statuses(c.client, Object.keys(c.peers)), (rows) => Console.log(formatStatus(c.peers, rows))))
).pipe(Command.withDescription("show every node: role, term, leader, commit and applied index, log size"))

// -- snapshot save / restore --------------------------------------------------------------------------

const snapshotFileArg = Args.text({ name: "file" }).pipe(Args.withDescription("the snapshot file"))

/** Reads and checks a snapshot file of the key/value service: the snapshot and its decoded state. */
const readSnapshot = (command: string, file: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const bytes = yield* fs.readFile(file).pipe(
      Effect.catchAll((e) => fail(command, ExitCode.BadInput, `cannot read ${file}: ${e.message}`))
    )
    const captured = yield* Backup.decode(bytes, file).pipe(
      Effect.catchTag("SnapshotFileError", (e) => fail(command, ExitCode.BadInput, e.message))
    )
    if (captured.kind !== "kv") {
      return yield* fail(command, ExitCode.BadInput, `${file} is a snapshot of a ${captured.kind} service, not of a key/value cluster`)
    }
    const state = Either.try(() => Kv.restore(captured.data))
    if (Either.isLeft(state)) return yield* fail(command, ExitCode.BadInput, `${file}: ${(state.left as Error).message}`)
    return { bytes, captured, state: state.right }
  })

const save = Command.make("save", { endpoints: endpointsOption, timeout: timeoutOption, ...clientSecurityFlags, file: snapshotFileArg }, (o) =>
  withCluster("snapshot save", o, (c) =>
    Effect.gen(function*() {
      const transport = yield* clientTransport("kv snapshot save", c.security, { self: "concord-cli", peers: c.peers, callTimeout: "10 seconds" })
      const clerk = yield* Clerk.make({ servers: Object.keys(c.peers) }).pipe(Effect.provideService(Transport, transport))
      const captured = yield* Clerk.deadline(clerk.call(new OpsSnapshot()), c.timeout, (after) => after).pipe(
        Effect.catchAll((e) =>
          Duration.isDuration(e)
            ? fail("kv snapshot save", ExitCode.Failed, `no leader sent a snapshot within ${Duration.format(e)} (has the cluster lost its majority?)`)
            : fail("kv snapshot save", ExitCode.Failed, e.message))
      )
      const bytes = Backup.encode(captured)
      const fs = yield* FileSystem.FileSystem
      yield* writeFileAtomic(fs, o.file, bytes).pipe(
        Effect.catchTag("StorageError", (e) => fail("kv snapshot save", ExitCode.Failed, e.message))
      )
      yield* Console.log(
        `saved a snapshot at index ${captured.index} (term ${captured.term}) to ${o.file}: ` +
          `${bytes.length} bytes, sha256 ${Backup.checksum(bytes)}`
      )
    }))
).pipe(Command.withDescription(
  "save a consistent snapshot of the cluster's state, taken by the leader, to FILE (written atomically)"
))

const restore = Command.make(
  "restore",
  {
    file: snapshotFileArg,
    data: Options.text("data").pipe(Options.withPseudoName("DIR"), Options.withDescription("the new node's data directory (must be new or empty)")),
    id: nodeFlags({ dataDefault: "", what: "Raft/KV" }).id,
    peers: nodeFlags({ dataDefault: "", what: "Raft/KV" }).peers,
    cluster: nodeFlags({ dataDefault: "", what: "Raft/KV" }).cluster
  },
  (o) =>
    Effect.gen(function*() {
      const command = "kv snapshot restore"
      if (o.peers[o.id] === undefined) {
        return yield* fail(command, ExitCode.BadInput, `--id ${o.id} is not among --peers (${Object.keys(o.peers).join(", ")})`)
      }
      const { captured, state } = yield* readSnapshot(command, o.file)
      yield* Backup.restore(captured, { dir: o.data, clusterId: o.cluster, nodeId: o.id }).pipe(
        Effect.catchTags({
          StorageError: (e) => fail(command, ExitCode.Failed, e.message),
          CorruptLog: (e) => fail(command, ExitCode.Failed, e.message)
        })
      )
      const peers = Object.entries(o.peers).map(([id, a]) => `${id}=${a}`).join(",")
      yield* Console.log(
        `restored ${o.data} for node ${o.id} of cluster ${o.cluster} from ${o.file} ` +
          `(index ${captured.index}, term ${captured.term}, ${state.data.size} keys); start it with:\n` +
          `  concord kv serve --id ${o.id} --peers ${peers} --data ${o.data}` + (o.cluster === "concord" ? "" : ` --cluster ${o.cluster}`)
      )
    })
).pipe(Command.withDescription(
  "seed a new node's data directory from a snapshot file: restore every member of a new cluster from the same file, then serve them"
))

const inspect = Command.make("status", { file: snapshotFileArg }, (o) =>
  Effect.flatMap(readSnapshot("kv snapshot status", o.file), ({ bytes, captured, state }) =>
    Console.log(
      `${o.file}: key/value snapshot at index ${captured.index} (term ${captured.term}), ${state.data.size} keys, ` +
        `${state.dups.size} client sessions, ${bytes.length} bytes, sha256 ${Backup.checksum(bytes)}; checksum ok`
    ))
).pipe(Command.withDescription("check a snapshot file and print what it holds (index, term, keys, size, checksum)"))

const snapshot = Command.make("snapshot").pipe(
  Command.withDescription("back up a cluster's state to a file, check one, or seed a new cluster's nodes from one"),
  Command.withSubcommands([save, inspect, restore])
)

// -- membership --------------------------------------------------------------------------------------

/** Runs a membership change at the leader, found through the endpoints; one line on success. */
const memberChange = (command: string, o: ClusterFlags, c: Members.Change, done: (index: number) => string) =>
  Effect.gen(function*() {
    const endpoints = yield* endpointsOf(command, o.endpoints)
    const transport = yield* clientTransport(`kv ${command}`, yield* clientSecurity(`kv ${command}`, o), { self: "concord-cli", callTimeout: "1 second" })
    const r = yield* Effect.either(Members.change(endpoints.list, c, o.timeout).pipe(Effect.provideService(Transport, transport)))
    if (Either.isRight(r)) return yield* Console.log(done(r.right))
    const e = r.left
    const bad = e._tag === "MemberRefused" && (e.reason === "AlreadyMember" || e.reason === "UnknownNode" || e.reason === "LastVoter")
    const message = e._tag === "TransportError" ? `no member reachable within ${Duration.format(o.timeout)}: ${e.message}` : e.message
    return yield* fail(`kv ${command}`, bad ? ExitCode.BadInput : ExitCode.Failed, message)
  }).pipe(Effect.scoped)

const clusterFlags = { endpoints: endpointsOption, timeout: timeoutOption, ...clientSecurityFlags }
const idArg = Args.text({ name: "ID" }).pipe(Args.withDescription("the member's id"))

const memberList = Command.make("list", clusterFlags, (o) =>
  Effect.gen(function*() {
    const endpoints = yield* endpointsOf("member list", o.endpoints)
    const transport = yield* clientTransport("kv member list", yield* clientSecurity("kv member list", o), { self: "concord-cli", callTimeout: "1 second" })
    const v = yield* Members.view(endpoints.list).pipe(
      Effect.provideService(Transport, transport),
      Effect.catchAll((e) => fail("kv member list", ExitCode.Failed, `no member reachable: ${e.message}`))
    )
    yield* Console.log(formatMembers(v))
  }).pipe(Effect.scoped)).pipe(Command.withDescription("show the cluster's members: id, voter or learner, address, log match"))

/** The member table: id, role, address, match (as the answering node, preferably the leader, knows it). */
export const formatMembers = (v: MembersView): string => {
  const header = ["member", "role", "address", "match"]
  const rows = v.members.map((m) => [
    m.id + (m.id === v.leader ? " (leader)" : ""),
    m.role,
    m.address ?? "",
    m.match === null ? "" : String(m.match)
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const table = [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n")
  const state = v.index === 0 ? "the bootstrap configuration" : `configuration at index ${v.index}${v.committed ? "" : " (not committed yet)"}`
  return `${table}\n${state}, as ${v.id} sees it`
}

const memberAdd = Command.make(
  "add",
  { ...clusterFlags, member: Args.text({ name: "ID=HOST:PORT" }).pipe(Args.withDescription("the new node's id and Raft/KV address")) },
  (o) =>
    Effect.gen(function*() {
      const parsed = parsePeers(o.member)
      if (Either.isLeft(parsed) || Object.keys(parsed.right).length !== 1) {
        return yield* fail("kv member add", ExitCode.BadInput, `"${o.member}" is not ID=HOST:PORT`)
      }
      const [id, address] = Object.entries(parsed.right)[0]!
      yield* memberChange("member add", o, { op: "add", id, address }, (index) =>
        `added ${id} (${address}) as a learner (configuration ${index}); once it has caught up: concord kv member promote ${id}`)
    })
).pipe(Command.withDescription("add a node as a learner: it receives the log and snapshots, and does not vote"))

const memberPromote = Command.make("promote", { ...clusterFlags, id: idArg }, (o) =>
  memberChange("member promote", o, { op: "promote", id: o.id }, (index) => `${o.id} is now a voter (configuration ${index})`)).pipe(
    Command.withDescription("make a learner a voter, once it holds every committed entry")
  )

const memberRemove = Command.make("remove", { ...clusterFlags, id: idArg }, (o) =>
  memberChange("member remove", o, { op: "remove", id: o.id }, (index) => `removed ${o.id} (configuration ${index})`)).pipe(
    Command.withDescription("remove a member (a voter or a learner; the leader hands over first)")
  )

const member = Command.make("member").pipe(
  Command.withDescription("the cluster's membership: list, add a learner, promote it, remove a member"),
  Command.withSubcommands([memberList, memberAdd, memberPromote, memberRemove])
)

const transferLeader = Command.make("transfer-leader", { ...clusterFlags, id: idArg }, (o) =>
  memberChange("transfer-leader", o, { op: "transfer", id: o.id }, () => `leadership transferred to ${o.id}`)).pipe(
    Command.withDescription("hand leadership to voter ID (it campaigns once its log is up to date)")
  )

export const command = Command.make("kv").pipe(
  Command.withDescription("the replicated key/value service: run a node, or read and write a cluster"),
  Command.withSubcommands([serve, get, put, append, del, status, member, transferLeader, snapshot])
)
