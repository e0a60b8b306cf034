/**
 * `concord demo --shard`: a scripted tour of a real sharded cluster that exits when done.
 *
 * It starts 3 controller replicas and 3 groups of 3 replicas (free ports, a temporary data
 * directory), joins one group, and puts clients to work on many keys; then joins the two other groups
 * and shows the shards migrating under the load; makes the first group leave and kills the leader of
 * a receiving group with SIGKILL in the middle of that migration, then restarts it; and finally shows
 * that the recorded history is linearizable, that every acknowledged write is there, and that the group
 * that left holds no data any more. Exit 0 if all went well.
 * @internal
 */
import { Console, Effect, Fiber, Ref } from "effect"
import * as HtmlView from "../../check/HtmlView.js"
import * as Linearizability from "../../check/Linearizability.js"
import * as KvModel from "../../check/models/Kv.js"
import * as Tcp from "../../rpc/Tcp.js"
import { Transport } from "../../rpc/Transport.js"
import { type Config, gids } from "../../shardctrler/Config.js"
import * as CtrlClient from "../../shardctrler/CtrlClient.js"
import { type ShardNodeStatus, ShardStatus } from "../../shardkv/Messages.js"
import * as ShardKvClient from "../../shardkv/ShardKvClient.js"
import { type Child, freePort, spawnConcord } from "./children.js"
import { ExitCode, exitWith } from "./exit.js"
import { groupStatuses } from "./shards.js"

const now = () => performance.now()
const peersText = (m: Record<string, string>) => Object.entries(m).map(([id, a]) => `${id}=${a}`).join(",")

export const run = (o: { readonly dir: string; readonly clients: number; readonly keep: boolean }) =>
  Effect.gen(function*() {
    const host = "127.0.0.1"
    const port = () => Effect.map(freePort(host), (p) => `${host}:${p}`)
    const ctrl: Record<string, string> = {}
    for (const id of ["c1", "c2", "c3"]) ctrl[id] = yield* port()
    const groups = new Map<number, Record<string, string>>()
    for (const gid of [100, 101, 102]) {
      const peers: Record<string, string> = {}
      for (const id of ["n1", "n2", "n3"]) peers[id] = yield* port()
      groups.set(gid, peers)
    }
    const quiet = () => {}
    const start = (name: string, args: ReadonlyArray<string>) => spawnConcord(name, [...args, "--no-http"], quiet)
    const startReplica = (gid: number, id: string) =>
      start(`${gid}-${id}`, [
        "shard", "serve", "--gid", String(gid), "--id", id, "--peers", peersText(groups.get(gid)!), "--ctrl", peersText(ctrl),
        "--data", `${o.dir}/g${gid}-${id}`
      ])

    yield* Console.log(`1. Starting 3 controllers and 3 groups of 3 replicas (data in ${o.dir})`)
    const children = new Map<string, Child>()
    for (const id of Object.keys(ctrl)) {
      children.set(id, yield* start(id, ["shard", "ctrl", "serve", "--id", id, "--peers", peersText(ctrl), "--data", `${o.dir}/ctrl-${id}`]))
    }
    for (const [gid, peers] of groups) for (const id of Object.keys(peers)) children.set(`${gid}-${id}`, yield* startReplica(gid, id))
    yield* Effect.forEach(children.values(), (c) => c.ready.pipe(Effect.timeout("20 seconds"), Effect.mapError((e) => new Error(`${c.name} did not start: ${String(e)}`))), { discard: true })

    const transport = yield* Tcp.make({ self: "concord-demo", peers: ctrl, callTimeout: "1 second" })
    const provide = Effect.provideService(Transport, transport)
    const admin = yield* CtrlClient.make({ servers: Object.keys(ctrl) }).pipe(provide)
    const join = (gid: number) => admin.join(new Map([[gid, Object.values(groups.get(gid)!)]]), { timeout: "20 seconds" })
    yield* join(100)
    yield* Console.log(`   group 100 joined: it serves all 10 shards`)

    // Clients on 500 keys, every operation recorded for the checker.
    const history: Array<KvModel.Operation> = []
    const acked = new Map<string, string>()
    const done = yield* Ref.make(0)
    const stop = yield* Ref.make(false)
    const keys = 500
    const clients = yield* Effect.forEach(Array.from({ length: o.clients }), () => ShardKvClient.make({ ctrlers: Object.keys(ctrl), callTimeout: "1 second" }).pipe(provide))
    yield* Console.log(`\n2. Load: ${o.clients} clients put, append and get on ${keys} keys until the end of the tour`)
    const load = yield* Effect.fork(Effect.forEach(clients, (c, i) =>
      Effect.gen(function*() {
        for (let k = 0; !(yield* Ref.get(stop)); k++) {
          const key = `user:${(i * 131 + k * 17) % keys}`
          const call = now()
          const roll = (k + i) % 4
          if (roll === 0) {
            const value = yield* c.get(key, { timeout: "30 seconds" })
            history.push({ clientId: i, input: { op: "get", key }, output: { value }, call, return: now() })
          } else {
            const value = `${i}.${k};`
            const op = roll === 1 ? "put" : "append"
            yield* (op === "put" ? c.put(key, value, { timeout: "30 seconds" }) : c.append(key, value, { timeout: "30 seconds" }))
            history.push({ clientId: i, input: { op, key, value }, output: {}, call, return: now() })
            acked.set(key, op === "put" ? value : (acked.get(key) ?? "") + value)
          }
          yield* Ref.update(done, (n) => n + 1)
        }
      }), { concurrency: "unbounded", discard: true }))

    const statusOf = (config: Config) =>
      Effect.map(groupStatuses(transport, config), (rows) => {
        const leaders = new Map<number, ShardNodeStatus>()
        for (const r of rows) if (r.status?.role === "Leader") leaders.set(r.gid, r.status)
        return leaders
      })
    /** Waits until every group's leader has adopted the latest config with nothing pulling or sending, printing progress. */
    const settle = (what: string, t0 = now()) =>
      Effect.gen(function*() {
        let lastLine = ""
        for (;;) {
          const config = yield* admin.query(-1, { timeout: "5 seconds" })
          const leaders = yield* statusOf(config)
          let pulling = 0
          let sending = 0
          let behind = 0
          for (const g of gids(config)) {
            const s = leaders.get(g)
            if (s === undefined || s.config < config.num) behind++
            else for (const x of Object.values(s.shards)) x === "pulling" ? pulling++ : x === "sending" ? sending++ : 0
          }
          const line = `config ${config.num}: ${pulling} shards pulling, ${sending} sending, ${behind} groups still adopting`
          if (line !== lastLine) yield* Console.log(`   ${((now() - t0) / 1000).toFixed(2)} s  ${line}`)
          lastLine = line
          if (pulling + sending + behind === 0) {
            const per = gids(config).map((g) => `${g}: ${config.shards.filter((x) => x === g).length}`).join(", ")
            yield* Console.log(`   ${what} done in ${((now() - t0) / 1000).toFixed(2)} s; shards per group ${per}; ${yield* Ref.get(done)} operations so far`)
            return
          }
          if (now() - t0 > 60_000) return yield* Effect.fail(new Error(`${what} did not settle within 60 s`))
          yield* Effect.sleep("100 millis")
        }
      })

    yield* Effect.sleep("1 second")
    yield* Console.log(`\n3. Groups 101 and 102 join: shards migrate from 100 while the clients go on`)
    yield* join(101)
    yield* join(102)
    yield* settle("the migration")

    yield* Console.log(`\n4. Group 100 leaves; SIGKILL the leader of group 101 in the middle of the migration, restart it 1 s later`)
    const leaving = now()
    yield* admin.leave([100], { timeout: "20 seconds" })
    const before = yield* statusOf(yield* admin.query(-1))
    const victimId = before.get(101)?.id ?? "n1"
    const victim = children.get(`101-${victimId}`)!
    victim.process.kill("SIGKILL")
    yield* victim.exited
    yield* Console.log(`   killed 101-${victimId}`)
    yield* Effect.sleep("1 second")
    const again = yield* startReplica(101, victimId)
    yield* again.ready.pipe(Effect.mapError(() => new Error(`101-${victimId} did not restart`)))
    children.set(`101-${victimId}`, again)
    yield* settle("the second migration (from the leave)", leaving)

    yield* Effect.sleep("500 millis")
    yield* Ref.set(stop, true)
    yield* Fiber.join(load)
    yield* Console.log(`   the clients stopped after ${yield* Ref.get(done)} operations`)

    yield* Console.log(`\n5. Check: every acknowledged write, the history, and what the group that left still holds`)
    const reader = clients[0]!
    let missing = 0
    for (const [key, value] of acked) if ((yield* reader.get(key, { timeout: "10 seconds" })) !== value) missing++
    yield* Console.log(`   ${acked.size - missing} of ${acked.size} written keys read back with their last acknowledged value`)
    const c0 = now()
    const result = Linearizability.checkHistory(KvModel.model, history, { timeoutMs: 30_000, now })
    const left = yield* Effect.forEach(Object.values(groups.get(100)!), (server) =>
      Effect.map(Effect.either(transport.call(server, new ShardStatus({}, true))), (r) => (r._tag === "Right" ? r.right.dataBytes : -1)))
    yield* Console.log(`   group 100 (left) holds ${left.join(", ")} bytes of data on its replicas (0: everything was handed over and deleted)`)
    if (Linearizability.isOk(result)) {
      yield* Console.log(`   ${history.length} operations linearizable (${result.partitions.length} keys, checked in ${(now() - c0).toFixed(0)} ms)`)
    } else {
      const file = `${o.dir}/history.html`
      yield* HtmlView.writeFile(file, KvModel.model, history, result)
      yield* Console.log(`   ${Linearizability.explain(KvModel.model, history, result)}\n   view: ${file}`)
      return yield* exitWith(ExitCode.Failed)
    }
    if (missing > 0 || left.some((b) => b !== 0)) return yield* exitWith(ExitCode.Failed)
    yield* Console.log(`\nDone. Stopping the cluster${o.keep ? `; the data stays in ${o.dir}` : ""}.`)
  })
