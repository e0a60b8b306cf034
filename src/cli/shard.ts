/**
 * `concord shard`: the shard controller (and, with the sharded key/value service, its groups).
 *
 *   concord shard ctrl serve --id c1 [--peers c1=127.0.0.1:7101,...] [--shards 10] [--key-to-shard hash|first-byte]
 *   concord shard join GID=HOST:PORT[,HOST:PORT...]...   [--ctrl ID=HOST:PORT,...]
 *   concord shard leave GID...
 *   concord shard move SHARD GID
 *   concord shard query [NUM]
 *
 * Exit codes as every command (internal/exit.ts): 0 done, 1 could not be done (no controller reachable
 * or no leader within --timeout, a port in use, a data directory in use or of another node), 3 bad input
 * (a bad flag, or a command the controller refuses: a gid already joined, an unknown gid, a shard out of
 * range).
 * @since 0.1.0
 */
import { Args, Command, HelpDoc, Options } from "@effect/cli"
import { Console, Duration, Effect, Either } from "effect"
import * as Tcp from "../rpc/Tcp.js"
import { Transport } from "../rpc/Transport.js"
import { type Config, type Gid, gids } from "../shardctrler/Config.js"
import * as CtrlClient from "../shardctrler/CtrlClient.js"
import * as CtrlNode from "../shardctrler/CtrlNode.js"
import { ADDRESS, parsePeers } from "./internal/cluster.js"
import { ExitCode, fail } from "./internal/exit.js"
import { choiceOption, durationOption, integerOption, invalid } from "./internal/flags.js"
import * as NodeServe from "./internal/serve.js"

/** The embedded default controller cluster: three replicas on loopback (what `shard up` starts). */
export const DEFAULT_CTRL = "c1=127.0.0.1:7101,c2=127.0.0.1:7102,c3=127.0.0.1:7103"

// -- ctrl serve --------------------------------------------------------------------------------------

const ctrlServe = Command.make(
  "serve",
  {
    ...NodeServe.nodeFlags({ defaultPeers: DEFAULT_CTRL, dataDefault: "./data/ctrl-<id>", what: "controller" }),
    shards: integerOption("shards", {
      min: 1,
      max: 100_000,
      fallback: 10,
      description: "number of shards, fixed when the controller cluster is created"
    }),
    keyToShard: choiceOption(
      "key-to-shard",
      ["hash", "first-byte"],
      "hash",
      "key→shard function, fixed when the cluster is created: hash (32-bit FNV-1a mod shards) or first-byte (6.824's)"
    )
  },
  (o) =>
    Effect.gen(function*() {
      const command = "shard ctrl serve"
      const { dataDir, httpPort, raft } = yield* NodeServe.resolve(command, o, (id) => `./data/ctrl-${id}`)
      const node = yield* CtrlNode.make({
        id: o.id,
        peers: o.peers,
        dataDir,
        clusterId: o.cluster,
        host: o.host,
        ...(httpPort === undefined ? {} : { httpPort }),
        raft,
        ctrl: { nShards: o.shards, keyToShard: o.keyToShard, maxRaftState: o.maxRaftState, peers: o.peers }
      }).pipe(Effect.catchTags(NodeServe.startErrors(command, o.host, httpPort)))
      yield* NodeServe.run(
        command,
        o,
        node,
        `controller ${o.id} of ${Object.keys(o.peers).join(",")} (cluster ${o.cluster}, ${o.shards} shards, ` +
          `key→shard ${o.keyToShard}); on ${node.address.host}:${node.address.port}` +
          (node.httpPort === undefined ? "" : `, HTTP on http://${o.host}:${node.httpPort}`) +
          `; data in ${dataDir}`
      )
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("run one replica of the shard controller (stop it with Ctrl-C or SIGTERM)"))

const ctrl = Command.make("ctrl").pipe(
  Command.withDescription("the shard controller: which replica group serves each shard"),
  Command.withSubcommands([ctrlServe])
)

// -- admin verbs -------------------------------------------------------------------------------------

export const ctrlOption = Options.text("ctrl").pipe(
  Options.withPseudoName("ID=HOST:PORT,..."),
  Options.withDefault(DEFAULT_CTRL),
  Options.mapEffect((text) => Either.match(parsePeers(text), { onLeft: (m) => invalid(`--ctrl: ${m}`), onRight: Effect.succeed })),
  Options.withDescription(`the controller replicas (default: the local cluster's, ${DEFAULT_CTRL})`)
)
const timeoutOption = durationOption("timeout", "5s", "give up after this long without an answer from the controller's leader", {
  positive: true
})

/** Runs `use` with a controller client over TCP, turning a timeout or a refusal into a one-line error. */
const withCtrl = <A>(
  command: string,
  o: { readonly ctrl: Record<string, string>; readonly timeout: Duration.Duration },
  use: (c: CtrlClient.CtrlClientShape, options: CtrlClient.OperationOptions) => Effect.Effect<A, CtrlClient.CtrlError>
) =>
  Effect.scoped(Effect.gen(function*() {
    const transport = yield* Tcp.make({ self: "concord-cli", peers: o.ctrl, callTimeout: "1 second" })
    const client = yield* CtrlClient.make({ servers: Object.keys(o.ctrl), callTimeout: "1 second", retryPause: "50 millis" }).pipe(
      Effect.provideService(Transport, transport)
    )
    return yield* use(client, { timeout: o.timeout })
  })).pipe(
    Effect.catchTags({
      InvalidRequest: (e) => fail(`shard ${command}`, ExitCode.BadInput, e.message),
      CtrlTimeout: (e) =>
        fail(`shard ${command}`, ExitCode.Failed, `${e.message}: no controller leader answered (is the controller cluster up? --ctrl)`)
    })
  )

/** A readable config: shard → gid, then the groups with their shard counts and servers. */
export const formatConfig = (c: Config): string => {
  const lines = [`config ${c.num}: ${c.shards.length} shards, key→shard ${c.keyToShard}`]
  const shardRow = ["shard", ...c.shards.map((_, s) => String(s))]
  const gidRow = ["gid", ...c.shards.map(String)]
  const widths = shardRow.map((x, i) => Math.max(x.length, gidRow[i]!.length))
  lines.push(shardRow.map((x, i) => x.padEnd(widths[i]!)).join(" ").trimEnd(), gidRow.map((x, i) => x.padEnd(widths[i]!)).join(" ").trimEnd())
  if (c.groups.size === 0) lines.push("", "no groups (every shard on gid 0)")
  else {
    const rows = gids(c).map((g) => [String(g), String(c.shards.filter((x) => x === g).length), c.groups.get(g)!.join(",")])
    const header = ["group", "shards", "servers"]
    const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
    lines.push("", ...[header, ...rows].map((r) => r.map((x, i) => x.padEnd(w[i]!)).join("  ").trimEnd()))
  }
  return lines.join("\n")
}

const GROUP = /^(\d+)=(.+)$/

/** `GID=HOST:PORT[,HOST:PORT...]` → [gid, servers]. */
export const parseGroup = (text: string): Either.Either<readonly [Gid, ReadonlyArray<string>], string> => {
  const m = GROUP.exec(text.trim())
  if (m === null) return Either.left(`"${text}" is not GID=HOST:PORT[,HOST:PORT...]`)
  const gid = Number(m[1])
  if (!Number.isSafeInteger(gid) || gid <= 0) return Either.left(`"${m[1]}" is not a positive gid`)
  const servers = m[2]!.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
  const bad = servers.find((s) => !ADDRESS.test(s))
  if (servers.length === 0) return Either.left(`group ${gid} has no servers`)
  return bad === undefined ? Either.right([gid, servers] as const) : Either.left(`"${bad}" is not host:port`)
}

/** An argument's one-line error (as @effect/cli reports a bad argument). */
const badArg = (message: string) => Effect.fail(HelpDoc.p(message))

const positiveInt = (name: string, text: string) => {
  const n = Number(text)
  return /^\d+$/.test(text) && Number.isSafeInteger(n) ? Effect.succeed(n) : badArg(`${name}: "${text}" is not a non-negative integer`)
}

const join = Command.make(
  "join",
  {
    ctrl: ctrlOption,
    timeout: timeoutOption,
    groups: Args.text({ name: "GID=HOST:PORT[,HOST:PORT...]" }).pipe(
      Args.atLeast(1),
      Args.mapEffect((texts) =>
        Effect.forEach(texts, (t) => Either.match(parseGroup(t), { onLeft: badArg, onRight: Effect.succeed }))
      ),
      Args.withDescription("a group to add: its gid and its replicas' Raft/KV addresses")
    )
  },
  (o) =>
    Effect.gen(function*() {
      const c = yield* withCtrl("join", o, (client, options) => client.join(new Map(o.groups), options))
      yield* Console.log(formatConfig(c))
    })
).pipe(Command.withDescription("add replica groups; the controller rebalances the shards onto them"))

const leave = Command.make(
  "leave",
  {
    ctrl: ctrlOption,
    timeout: timeoutOption,
    gids: Args.text({ name: "GID" }).pipe(
      Args.atLeast(1),
      Args.mapEffect((texts) => Effect.forEach(texts, (t) => positiveInt("GID", t))),
      Args.withDescription("a group to remove")
    )
  },
  (o) =>
    Effect.gen(function*() {
      const c = yield* withCtrl("leave", o, (client, options) => client.leave(o.gids, options))
      yield* Console.log(formatConfig(c))
    })
).pipe(Command.withDescription("remove replica groups; their shards move to the others"))

const move = Command.make(
  "move",
  {
    ctrl: ctrlOption,
    timeout: timeoutOption,
    shard: Args.text({ name: "SHARD" }).pipe(Args.mapEffect((t) => positiveInt("SHARD", t)), Args.withDescription("the shard")),
    gid: Args.text({ name: "GID" }).pipe(Args.mapEffect((t) => positiveInt("GID", t)), Args.withDescription("the group to serve it"))
  },
  (o) =>
    Effect.gen(function*() {
      const c = yield* withCtrl("move", o, (client, options) => client.move(o.shard, o.gid, options))
      yield* Console.log(formatConfig(c))
    })
).pipe(Command.withDescription("assign one shard to one group (no rebalancing)"))

const query = Command.make(
  "query",
  {
    ctrl: ctrlOption,
    timeout: timeoutOption,
    num: Args.text({ name: "NUM" }).pipe(
      Args.mapEffect((t) => positiveInt("NUM", t)),
      Args.optional,
      Args.withDescription("the config number (default: the latest)")
    )
  },
  (o) =>
    Effect.gen(function*() {
      const c = yield* withCtrl("query", o, (client, options) => client.query(o.num._tag === "Some" ? o.num.value : -1, options))
      yield* Console.log(formatConfig(c))
    })
).pipe(Command.withDescription("print a config: shard → group, and the groups with their servers"))

export const command = Command.make("shard").pipe(
  Command.withDescription("the sharded key/value service: its controller, its groups, and their admin"),
  Command.withSubcommands([ctrl, join, leave, move, query])
)
