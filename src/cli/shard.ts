/**
 * `concord shard`: the shard controller (and, with the sharded key/value service, its groups).
 *
 *   concord shard ctrl serve --id c1 [--peers c1=127.0.0.1:7101,...] [--shards 10] [--key-to-shard hash|first-byte]
 *   concord shard join GID=HOST:PORT[,HOST:PORT...]...   [--ctrl ID=HOST:PORT,...]
 *   concord shard leave GID...
 *   concord shard move SHARD GID
 *   concord shard query [NUM]
 *   concord shard serve --gid GID --id ID --peers ID=HOST:PORT,... [--ctrl ID=HOST:PORT,...] [--data DIR]
 *   concord shard get KEY | put KEY VALUE | append KEY VALUE | del KEY | status   [--ctrl ...]
 *   concord shard up [--groups 3] [--data ./data-shard]
 *
 * Exit codes as every command (internal/exit.ts): 0 done, 1 could not be done (no controller reachable
 * or no leader within --timeout, a port in use, a data directory in use or of another node), 3 bad input
 * (a bad flag, or a command the controller refuses: a gid already joined, an unknown gid, a shard out of
 * range).
 * @since 0.1.0
 */
import { Args, Command, HelpDoc, Options } from "@effect/cli"
import { Console, Deferred, Duration, Effect, Either, Fiber, Option } from "effect"
import * as Tcp from "../rpc/Tcp.js"
import { Transport } from "../rpc/Transport.js"
import { type Config, type Gid, gids } from "../shardctrler/Config.js"
import * as CtrlClient from "../shardctrler/CtrlClient.js"
import * as CtrlNode from "../shardctrler/CtrlNode.js"
import type { ShardNodeStatus } from "../shardkv/Messages.js"
import * as ShardKvClient from "../shardkv/ShardKvClient.js"
import * as ShardKvNode from "../shardkv/ShardKvNode.js"
import { type Child, portFree, spawnConcord, supervise } from "./internal/children.js"
import { makeConsole } from "./internal/console.js"
import { countStates, groupStatuses } from "./internal/shards.js"
import { ADDRESS, parsePeers } from "./internal/cluster.js"
import { ExitCode, fail } from "./internal/exit.js"
import { choiceOption, durationOption, integerOption, invalid } from "./internal/flags.js"
import * as NodeServe from "./internal/serve.js"
import { type ClientSecurityFlags, clientSecurity, clientSecurityFlags, clientTransport, describeNodeSecurity } from "./internal/security.js"
import { fileOption, keyArg, readValue, valueArg } from "./internal/values.js"

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
      const { dataDir, httpPort, raft, security } = yield* NodeServe.resolve(command, o, (id) => `./data/ctrl-${id}`)
      const node = yield* CtrlNode.make({
        id: o.id,
        peers: o.peers,
        dataDir,
        clusterId: o.cluster,
        host: o.host,
        ...(httpPort === undefined ? {} : { httpPort }),
        raft,
        ...(security === undefined ? {} : { security }),
        ctrl: { nShards: o.shards, keyToShard: o.keyToShard, maxRaftState: o.maxRaftState, peers: o.peers }
      }).pipe(Effect.catchTags(NodeServe.startErrors(command, o.host, httpPort)))
      yield* NodeServe.run(
        command,
        o,
        node,
        `controller ${o.id} of ${Object.keys(o.peers).join(",")} (cluster ${o.cluster}, ${o.shards} shards, ` +
          `key→shard ${o.keyToShard}); on ${node.address.host}:${node.address.port}` +
          (node.httpPort === undefined ? "" : `, HTTP on ${NodeServe.httpUrl(o.host, node.httpPort, security)}`) +
          `; data in ${dataDir}` + describeNodeSecurity(security)
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
  o: { readonly ctrl: Record<string, string>; readonly timeout: Duration.Duration } & ClientSecurityFlags,
  use: (c: CtrlClient.CtrlClientShape, options: CtrlClient.OperationOptions) => Effect.Effect<A, CtrlClient.CtrlError>
) =>
  Effect.scoped(Effect.gen(function*() {
    const security = yield* clientSecurity(`shard ${command}`, o)
    const transport = yield* clientTransport(`shard ${command}`, security, { self: "concord-cli", peers: o.ctrl, callTimeout: "1 second" })
    const client = yield* CtrlClient.make({ servers: Object.keys(o.ctrl), callTimeout: "1 second", retryPause: "50 millis" }).pipe(
      Effect.provideService(Transport, transport)
    )
    return yield* use(client, { timeout: o.timeout })
  })).pipe(
    Effect.catchTags({
      InvalidRequest: (e) => fail(`shard ${command}`, ExitCode.BadInput, e.message),
      Unauthorized: (e) => fail(`shard ${command}`, ExitCode.Failed, e.message),
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
    ...clientSecurityFlags,
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
    ...clientSecurityFlags,
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
    ...clientSecurityFlags,
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
    ...clientSecurityFlags,
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

// -- shard serve -------------------------------------------------------------------------------------

const serve = Command.make(
  "serve",
  {
    gid: integerOption("gid", { min: 1, max: 2 ** 31, placeholder: "GID", description: "this replica's group" }),
    ...NodeServe.nodeFlags({ dataDefault: "./data/g<GID>-<id>", what: "group" }),
    ctrl: ctrlOption
  },
  (o) =>
    Effect.gen(function*() {
      const command = "shard serve"
      if (Option.isNone(o.gid)) return yield* fail(command, ExitCode.BadInput, "--gid is required: the group this replica serves")
      const gid = o.gid.value
      const { dataDir, httpPort, raft, security } = yield* NodeServe.resolve(command, o, (id) => `./data/g${gid}-${id}`)
      const node = yield* ShardKvNode.make({
        gid,
        id: o.id,
        peers: o.peers,
        ctrl: o.ctrl,
        dataDir,
        clusterId: o.cluster,
        host: o.host,
        ...(httpPort === undefined ? {} : { httpPort }),
        raft,
        ...(security === undefined ? {} : { security }),
        server: { maxRaftState: o.maxRaftState }
      }).pipe(Effect.catchTags(NodeServe.startErrors(command, o.host, httpPort)))
      yield* NodeServe.run(
        command,
        o,
        node,
        `replica ${o.id} of group ${gid} (${Object.keys(o.peers).join(",")}, cluster ${o.cluster}); ` +
          `on ${node.address.host}:${node.address.port}` +
          (node.httpPort === undefined ? "" : `, HTTP on ${NodeServe.httpUrl(o.host, node.httpPort, security)}`) +
          `; controllers ${Object.values(o.ctrl).join(",")}; data in ${dataDir}` + describeNodeSecurity(security)
      )
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("run one replica of a group of the sharded key/value service (stop it with Ctrl-C or SIGTERM)"))

// -- client verbs ------------------------------------------------------------------------------------

/** Runs `use` with a sharded client over TCP, turning a timeout or a refusal into a one-line error. */
const withShards = <A>(
  command: string,
  o: { readonly ctrl: Record<string, string>; readonly timeout: Duration.Duration } & ClientSecurityFlags,
  use: (c: ShardKvClient.ShardKvClientShape, options: ShardKvClient.OperationOptions) => Effect.Effect<A, ShardKvClient.KvError>
) =>
  Effect.scoped(Effect.gen(function*() {
    const security = yield* clientSecurity(`shard ${command}`, o)
    const transport = yield* clientTransport(`shard ${command}`, security, { self: "concord-cli", peers: o.ctrl, callTimeout: "1 second" })
    const client = yield* ShardKvClient.make({ ctrlers: Object.keys(o.ctrl), callTimeout: "1 second" }).pipe(
      Effect.provideService(Transport, transport)
    )
    return yield* use(client, { timeout: o.timeout })
  })).pipe(
    Effect.catchTags({
      InvalidRequest: (e) => fail(`shard ${command}`, ExitCode.BadInput, e.message),
      Unauthorized: (e) => fail(`shard ${command}`, ExitCode.Failed, e.message),
      KvTimeout: (e) =>
        fail(`shard ${command}`, ExitCode.Failed, `${e.message}: no group answered (is the cluster up? has it a group for the key's shard?)`)
    })
  )

const get = Command.make("get", { ctrl: ctrlOption, timeout: timeoutOption, ...clientSecurityFlags, key: keyArg }, (o) =>
  withShards("get", o, (c, options) => Effect.flatMap(c.get(o.key, options), Console.log))
).pipe(Command.withDescription("print the value of KEY (empty if it has none)"))

const del = Command.make("del", { ctrl: ctrlOption, timeout: timeoutOption, ...clientSecurityFlags, key: keyArg }, (o) =>
  withShards("del", o, (c, options) => Effect.zipRight(c.delete(o.key, options), Console.log("OK")))
).pipe(Command.withDescription("delete KEY"))

const write = (name: "put" | "append", description: string) =>
  Command.make(name, { ctrl: ctrlOption, timeout: timeoutOption, ...clientSecurityFlags, file: fileOption, key: keyArg, value: valueArg }, (o) =>
    Effect.flatMap(readValue(`shard ${name}`, o.value, o.file), (value) =>
      withShards(name, o, (c, options) => Effect.zipRight(c[name](o.key, value, options), Console.log("OK"))))
  ).pipe(Command.withDescription(description))

const put = write("put", "set KEY to VALUE (or to stdin with -, or to a file's contents with --file)")
const append = write("append", "append VALUE (or stdin with -, or a file's contents with --file) to KEY's value")

/** The `shard status` table: a row per replica. */
export const formatGroups = (config: Config, rows: ReadonlyArray<{ gid: Gid; server: string; status: ShardNodeStatus | undefined }>) => {
  const header = ["group", "replica", "address", "role", "term", "config", "serving", "pulling", "sending", "keys", "data bytes"]
  const lines = rows.map(({ gid, server, status: st }) => {
    if (st === undefined) return [String(gid), "", server, "unreachable", "", "", "", "", "", "", ""]
    const n = countStates(st.shards)
    return [String(gid), st.id, server, st.role, String(st.term), String(st.config), String(n.serving), String(n.pulling), String(n.sending), String(st.keys), String(st.dataBytes)]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  return [`config ${config.num} (from the controller)`, ...[header, ...lines].map((l) => l.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd())].join("\n")
}

const status = Command.make("status", { ctrl: ctrlOption, timeout: timeoutOption, ...clientSecurityFlags }, (o) =>
  Effect.gen(function*() {
    const config = yield* withCtrl("status", o, (client, options) => client.query(-1, options))
    const security = yield* clientSecurity("shard status", o)
    const rows = yield* Effect.scoped(
      Effect.flatMap(clientTransport("shard status", security, { self: "concord-cli", callTimeout: "1 second" }), (t) => groupStatuses(t, config))
    )
    yield* Console.log(formatGroups(config, rows))
  })).pipe(Command.withDescription("show every replica of every joined group: role, config, shards serving/pulling/sending, data held"))

// -- shard up ----------------------------------------------------------------------------------------

/** The local sharded cluster of `shard up`: where each controller and replica listens and keeps its data. */
export const shardLayout = (groups: number, host: string, data: string) => {
  const ctrl: Record<string, string> = {}
  for (let i = 1; i <= 3; i++) ctrl[`c${i}`] = `${host}:${7100 + i}`
  const gidsOf = Array.from({ length: groups }, (_, k) => 100 + k)
  const members = gidsOf.map((gid, k) => {
    const peers: Record<string, string> = {}
    for (let i = 1; i <= 3; i++) peers[`n${i}`] = `${host}:${7200 + 10 * k + i}`
    return { gid, peers }
  })
  return { ctrl, groups: members, data }
}

const peersText = (peers: Record<string, string>) => Object.entries(peers).map(([id, a]) => `${id}=${a}`).join(",")

const up = Command.make(
  "up",
  {
    groups: integerOption("groups", { min: 1, max: 9, fallback: 3, description: "replica groups of 3 replicas each (gids 100, 101, ...)" }),
    data: Options.text("data").pipe(
      Options.withPseudoName("DIR"),
      Options.withDefault("./data-shard"),
      Options.withDescription("data directory: <data>/ctrl-c<i> and <data>/g<gid>-n<i> (default ./data-shard)")
    ),
    host: Options.text("host").pipe(Options.withPseudoName("HOST"), Options.withDefault("127.0.0.1"), Options.withDescription("address to bind (default 127.0.0.1)"))
  },
  (o) =>
    Effect.gen(function*() {
      const l = shardLayout(o.groups, o.host, o.data)
      const ports = [...Object.values(l.ctrl), ...l.groups.flatMap((g) => Object.values(g.peers))].map((a) => Number(a.split(":").pop()))
      for (const port of ports.flatMap((p) => [p, p + 1000])) {
        if (!(yield* portFree(o.host, port))) {
          return yield* fail("shard up", ExitCode.Failed, `port ${port} on ${o.host} is in use (a sharded cluster already running?)`)
        }
      }
      const out = makeConsole()
      const children: Array<{ readonly name: string; readonly args: ReadonlyArray<string> }> = [
        ...Object.keys(l.ctrl).map((id) => ({
          name: `ctrl-${id}`,
          args: ["shard", "ctrl", "serve", "--id", id, "--peers", peersText(l.ctrl), "--data", `${o.data}/ctrl-${id}`, "--host", o.host, "--exit-with-stdin"]
        })),
        ...l.groups.flatMap(({ gid, peers }) =>
          Object.keys(peers).map((id) => ({
            name: `g${gid}-${id}`,
            args: [
              "shard", "serve", "--gid", String(gid), "--id", id, "--peers", peersText(peers), "--ctrl", peersText(l.ctrl),
              "--data", `${o.data}/g${gid}-${id}`, "--host", o.host, "--exit-with-stdin"
            ]
          })))
      ]
      const firsts = yield* Effect.forEach(children, () => Deferred.make<Child, string>())
      yield* Effect.forEach(children, (c, i) =>
        Effect.forkScoped(supervise(c.name, () => spawnConcord(c.name, c.args, (line) => out.print(`[${c.name}] ${line}`)), out.print, firsts[i]!)), {
        discard: true
      })
      yield* Effect.forEach(firsts, Deferred.await).pipe(
        Effect.catchAll((message) => Effect.zipRight(Effect.sync(out.dump), fail("shard up", ExitCode.Failed, message)))
      )
      // The groups join (a restarted `shard up` finds them joined already).
      const transport = yield* Tcp.make({ self: "concord-shard-up", peers: l.ctrl, callTimeout: "1 second" })
      const ctrlClient = yield* CtrlClient.make({ servers: Object.keys(l.ctrl) }).pipe(Effect.provideService(Transport, transport))
      const latest = yield* ctrlClient.query(-1, { timeout: "20 seconds" }).pipe(
        Effect.catchAll((e) => fail("shard up", ExitCode.Failed, `the controllers did not answer: ${e.message}`))
      )
      const toJoin = l.groups.filter((g) => !latest.groups.has(g.gid))
      if (toJoin.length > 0) {
        yield* ctrlClient.join(new Map(toJoin.map((g) => [g.gid, Object.values(g.peers)] as const)), { timeout: "20 seconds" }).pipe(
          Effect.catchAll((e) => fail("shard up", ExitCode.Failed, `could not join the groups: ${e.message}`))
        )
      }
      console.log(`\nConcord sharded key/value cluster: 3 controllers, ${o.groups} group${o.groups > 1 ? "s" : ""} of 3, data in ${o.data}`)
      for (const [id, a] of Object.entries(l.ctrl)) {
        console.log(`  controller ${id}  ${a}   HTTP http://${o.host}:${Number(a.split(":").pop()) + 1000}`)
      }
      for (const g of l.groups) {
        for (const [id, a] of Object.entries(g.peers)) {
          console.log(`  group ${g.gid} ${id}  ${a}   HTTP http://${o.host}:${Number(a.split(":").pop()) + 1000}`)
        }
      }
      const firstHttp = Number(Object.values(l.groups[0]!.peers)[0]!.split(":").pop()) + 1000
      console.log(`\nIn another terminal, in this checkout:`)
      console.log(`  npx concord shard put hello world`)
      console.log(`  npx concord shard get hello`)
      console.log(`  npx concord shard query`)
      console.log(`  curl -X PUT --data-binary world http://${o.host}:${firstHttp}/v1/kv/hello   # any replica takes any key`)
      console.log(`  curl http://${o.host}:${firstHttp}/v1/status`)
      console.log(`A process that exits is restarted. Ctrl-C stops the cluster.\n`)
      out.release()

      const watcher = yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
        const config = yield* Effect.option(ctrlClient.query(-1, { timeout: "1 second" }))
        if (config._tag === "Some") {
          const rows = yield* groupStatuses(transport, config.value)
          out.status(shardSummary(config.value, rows))
        } else out.status("no controller leader")
        yield* Effect.sleep("500 millis")
      })))
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          out.end()
          console.log("stopping the cluster…")
        })
      )
      yield* Fiber.join(watcher)
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("run a local sharded key/value cluster (3 controllers, groups of 3) as child processes; Ctrl-C stops it"))

/** The status line of `shard up`: config, shards per group, migrations in progress. */
export const shardSummary = (config: Config, rows: ReadonlyArray<{ gid: Gid; status: ShardNodeStatus | undefined }>) => {
  const perGroup = gids(config).map((g) => `${g}:${config.shards.filter((x) => x === g).length}`).join(" ")
  let pulling = 0
  let sending = 0
  let behind = 0
  for (const g of gids(config)) {
    const leader = rows.find((r) => r.gid === g && r.status?.role === "Leader")?.status
    if (leader === undefined) continue
    const n = countStates(leader.shards)
    pulling += n.pulling
    sending += n.sending
    if (leader.config < config.num) behind++
  }
  const up = rows.filter((r) => r.status !== undefined).length
  const moving = pulling + sending > 0
    ? `migrating: ${pulling} pulling, ${sending} sending`
    : behind > 0
    ? `${behind} group${behind > 1 ? "s" : ""} adopting config ${config.num}`
    : "no migration"
  return `config ${config.num} · shards ${perGroup || "none"} · ${moving} · ${up}/${rows.length} replicas up`
}

export const command = Command.make("shard").pipe(
  Command.withDescription("the sharded key/value service: its controller, its groups, and their admin"),
  Command.withSubcommands([ctrl, serve, join, leave, move, query, get, put, append, del, status, up])
)
