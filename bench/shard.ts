/**
 * `npm run bench -- shard [--seconds N] [--mb M]`: the sharded key/value service as it ships (3
 * `concord shard ctrl serve` and groups of 3 `concord shard serve`: the bundled CLI, loopback TCP,
 * file storage), driven from this process.
 *
 *   (a) steady state, 64 puts in flight for N s (default 5), through `ShardKvClient` and through one
 *       replica's HTTP API (which forwards to the owning group), with 1 group and then 3: puts/s, p50,
 *       p99, p99.9; ratios 3 groups / 1 group, and HTTP / client;
 *   (b) a migration of one shard holding M MB (default 10, in 10 KB values): while 16 clients keep
 *       working on keys of the other shards, the shard is moved to another group. Printed: how long the
 *       moving shard could not be read (the longest gap between two completed reads of it, probed back
 *       to back), and the p99 of the unaffected shards' requests during the migration against the same
 *       p99 before it (challenge 2: it should not rise much).
 */
import { Effect } from "effect"
import { loadavg } from "node:os"
import { groupStatuses } from "../src/cli/internal/shards.js"
import * as Tcp from "../src/rpc/Tcp.js"
import { Transport } from "../src/rpc/Transport.js"
import { type Config, shardOf } from "../src/shardctrler/Config.js"
import * as CtrlClient from "../src/shardctrler/CtrlClient.js"
import * as ShardKvClient from "../src/shardkv/ShardKvClient.js"
import { bundle, closedLoop, freePorts, percentiles, sleep, startServer, tempDir } from "./_support.js"

const VALUE = "v".repeat(256)
const BIG = "b".repeat(10 * 1024)
const peersText = (m: Record<string, string>) => Object.entries(m).map(([id, a]) => `${id}=${a}`).join(",")
const ms = (x: number) => `${x.toFixed(x < 10 ? 2 : 1)} ms`
const row = (cells: ReadonlyArray<string>) => `| ${cells.join(" | ")} |`

export async function run(args: ReadonlyArray<string>) {
  const flag = (name: string, fallback: number) => {
    const i = args.indexOf(`--${name}`)
    return i >= 0 ? Number(args[i + 1]) : fallback
  }
  const seconds = flag("seconds", 5)
  const mb = flag("mb", 10)
  const dir = tempDir("concord-bench-shard-")
  const cli = bundle(dir)
  console.log(`sharded KV: 3 controllers, 3 groups of 3; load average ${loadavg().map((x) => x.toFixed(1)).join(" ")}`)

  const ports = await freePorts(3 + 9 + 9)
  const ctrl: Record<string, string> = {}
  ;["c1", "c2", "c3"].forEach((id, i) => (ctrl[id] = `127.0.0.1:${ports[i]}`))
  const groups = [100, 101, 102].map((gid, g) => {
    const peers: Record<string, string> = {}
    ;["n1", "n2", "n3"].forEach((id, i) => (peers[id] = `127.0.0.1:${ports[3 + g * 3 + i]}`))
    return { gid, peers, http: [0, 1, 2].map((i) => ports[12 + g * 3 + i]!) }
  })
  const procs = [
    ...Object.keys(ctrl).map((id) =>
      startServer(cli, id, ["shard", "ctrl", "serve", "--id", id, "--peers", peersText(ctrl), "--data", `${dir}/ctrl-${id}`, "--no-http"])),
    ...groups.flatMap(({ gid, peers, http }) =>
      Object.keys(peers).map((id, i) =>
        startServer(cli, `${gid}-${id}`, [
          "shard", "serve", "--gid", String(gid), "--id", id, "--peers", peersText(peers), "--ctrl", peersText(ctrl),
          "--data", `${dir}/g${gid}-${id}`, "--http-port", String(http[i])
        ])))
  ]
  await Promise.all(procs.map((p) => p.ready))

  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const transport = yield* Tcp.make({ self: "bench", peers: ctrl, callTimeout: "2 seconds" })
    const provide = Effect.provideService(Transport, transport)
    const admin = yield* CtrlClient.make({ servers: Object.keys(ctrl) }).pipe(provide)
    const clients = yield* Effect.forEach(Array.from({ length: 64 }), () =>
      ShardKvClient.make({ ctrlers: Object.keys(ctrl), callTimeout: "2 seconds" }).pipe(provide))
    const join = (gs: ReadonlyArray<typeof groups[number]>) =>
      admin.join(new Map(gs.map((g) => [g.gid, Object.values(g.peers)] as const)), { timeout: "30 seconds" })
    /** Until every group's leader has adopted the latest config with nothing pulling or sending. */
    const settled = Effect.gen(function*() {
      for (;;) {
        const config = yield* admin.query(-1, { timeout: "5 seconds" })
        const rows = yield* groupStatuses(transport, config)
        const leaders = rows.filter((r) => r.status?.role === "Leader").map((r) => r.status!)
        if (leaders.length === config.groups.size && leaders.every((s) => s.config === config.num && Object.values(s.shards).every((x) => x === "serving"))) {
          return config
        }
        yield* Effect.sleep("50 millis")
      }
    })
    const promise = <A>(f: () => Promise<A>) => Effect.promise(f)
    const put = (c: ShardKvClient.ShardKvClientShape, k: string, v: string) => Effect.runPromise(c.put(k, v))
    const httpPut = (port: number, k: string) =>
      fetch(`http://127.0.0.1:${port}/v1/kv/${k}`, { method: "PUT", body: VALUE }).then(async (r) => {
        await r.arrayBuffer()
        if (r.status !== 200) throw new Error(`HTTP ${r.status}`)
      })

    const steady = (label: string) =>
      Effect.gen(function*() {
        // Warm: every client learns the config and its groups' leaders.
        yield* promise(() => Promise.all(clients.map((c, i) => put(c, `warm:${label}:${i}`, VALUE))))
        const viaClient = yield* promise(() => closedLoop(64, seconds * 1000, (loop, n) => put(clients[loop]!, `${label}:${loop}:${n}`, VALUE)))
        const viaHttp = yield* promise(() => closedLoop(64, seconds * 1000, (loop, n) => httpPut(groups[0]!.http[0]!, `${label}h:${loop}:${n}`)))
        return { viaClient, viaHttp }
      })

    yield* join([groups[0]!])
    yield* settled
    const one = yield* steady("one")
    yield* join([groups[1]!, groups[2]!])
    yield* settled
    const three = yield* steady("three")

    console.log(`\n(a) steady state, 64 puts in flight for ${seconds} s each (key ~16 B, value 256 B)`)
    console.log(row(["path", "groups", "puts/s", "p50", "p99", "p99.9"]))
    console.log(row(["---", "---:", "---:", "---:", "---:", "---:"]))
    for (const [groupsCount, r] of [[1, one], [3, three]] as const) {
      console.log(row(["ShardKvClient", String(groupsCount), r.viaClient.opsPerSec.toFixed(0), ms(r.viaClient.p50), ms(r.viaClient.p99), ms(r.viaClient.p999)]))
      console.log(row(["HTTP (one address)", String(groupsCount), r.viaHttp.opsPerSec.toFixed(0), ms(r.viaHttp.p50), ms(r.viaHttp.p99), ms(r.viaHttp.p999)]))
    }
    console.log(`3 groups / 1 group: client ${(three.viaClient.opsPerSec / one.viaClient.opsPerSec).toFixed(2)}×, ` +
      `HTTP ${(three.viaHttp.opsPerSec / one.viaHttp.opsPerSec).toFixed(2)}×; HTTP / client with 3 groups ` +
      `${(three.viaHttp.opsPerSec / three.viaClient.opsPerSec).toFixed(2)}×`)

    // (b) One shard with `mb` MB, moved while the other shards are busy.
    const config: Config = yield* admin.query(-1)
    const target = shardOf(config, "big:0")
    const bigKeys: Array<string> = []
    for (let i = 0; bigKeys.length < Math.ceil((mb * 1024 * 1024) / BIG.length); i++) {
      if (shardOf(config, `big:${i}`) === target) bigKeys.push(`big:${i}`)
    }
    yield* promise(() => Promise.all(Array.from({ length: 16 }, async (_, loop) => {
      for (let k = loop; k < bigKeys.length; k += 16) await put(clients[loop]!, bigKeys[k]!, BIG)
    })))
    const others = Array.from({ length: 2000 }, (_, i) => `other:${i}`).filter((k) => shardOf(config, k) !== target)
    const from = config.shards[target]!
    const to = [...config.groups.keys()].find((g) => g !== from)!

    const samples: Array<{ start: number; latency: number }> = []
    const probes: Array<number> = []
    let stop = false
    const background = Promise.all(Array.from({ length: 16 }, async (_, loop) => {
      for (let n = 0; !stop; n++) {
        const start = performance.now()
        await put(clients[loop]!, others[(loop * 97 + n) % others.length]!, VALUE)
        samples.push({ start, latency: performance.now() - start })
      }
    }))
    const probe = (async () => {
      const c = clients[63]!
      while (!stop) {
        await Effect.runPromise(c.get(bigKeys[0]!))
        probes.push(performance.now())
      }
    })()
    yield* promise(() => sleep(3000))
    const moveAt = performance.now()
    yield* admin.move(target, to, { timeout: "30 seconds" })
    yield* settled
    const doneAt = performance.now()
    yield* promise(() => sleep(1000))
    stop = true
    yield* promise(() => Promise.all([background, probe]))

    const before = percentiles(samples.filter((s) => s.start < moveAt).map((s) => s.latency))
    const during = percentiles(samples.filter((s) => s.start >= moveAt && s.start <= doneAt).map((s) => s.latency))
    const around = probes.filter((t) => t >= moveAt - 1000)
    let gap = 0
    for (let i = 1; i < around.length; i++) gap = Math.max(gap, around[i]! - around[i - 1]!)
    console.log(`\n(b) moving shard ${target} (${bigKeys.length} keys, ${(bigKeys.length * BIG.length / 1024 / 1024).toFixed(1)} MB) from group ${from} to ${to} under load (16 clients on other shards)`)
    console.log(`   migration: ${((doneAt - moveAt) / 1000).toFixed(2)} s from the move to every group settled`)
    console.log(`   the moving shard could not be read for at most ${ms(gap)} (longest gap between two reads)`)
    console.log(`   unaffected shards, p99 before ${ms(before.p99)} (n=${before.n}), during ${ms(during.p99)} (n=${during.n}): ${(during.p99 / before.p99).toFixed(2)}×; p50 ${ms(before.p50)} → ${ms(during.p50)}`)
  })))
  console.log(`load average after: ${loadavg().map((x) => x.toFixed(1)).join(" ")}`)
  await Promise.all(procs.map((p) => p.kill9()))
}
