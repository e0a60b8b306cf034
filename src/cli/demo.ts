/**
 * `concord demo` (`npm run demo`): a scripted tour of a real cluster that exits when done.
 *
 * It starts three `concord kv serve` processes (free ports, a temporary data directory), loads them
 * with concurrent clients behind a progress bar, kills the leader with SIGKILL and measures how long
 * until the next write is acknowledged, restarts the killed node and shows it catch up, then checks
 * every operation the clients recorded with the linearizability checker. Exit 0 if all went well.
 * @since 0.1.0
 */
import { Command, Options } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import { Console, Deferred, Effect, Fiber, Ref } from "effect"
import * as Linearizability from "../check/Linearizability.js"
import * as KvModel from "../check/models/Kv.js"
import * as HtmlView from "../check/HtmlView.js"
import * as KvClient from "../kv/KvClient.js"
import * as Tcp from "../rpc/Tcp.js"
import { Transport } from "../rpc/Transport.js"
import { describeExit, freePort, stop } from "./internal/children.js"
import { layout, startNode, startNodes, statuses } from "./internal/cluster.js"
import { ExitCode, exitWith, fail } from "./internal/exit.js"
import * as DemoShard from "./internal/demoShard.js"
import { integerOption } from "./internal/flags.js"

const now = () => performance.now()

const bar = (done: number, total: number, rate: number) => {
  const width = 30
  const filled = Math.round((done / total) * width)
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total} operations  ${rate.toFixed(0)} ops/s`
}

const demo = Command.make(
  "demo",
  {
    operations: integerOption("operations", { min: 1, max: 1_000_000, fallback: 3000, description: "operations in the load phase" }),
    clients: integerOption("clients", { min: 1, max: 1000, fallback: 16, description: "concurrent clients" }),
    keep: Options.boolean("keep-data").pipe(Options.withDescription("keep the data directory (printed at the end)")),
    shard: Options.boolean("shard").pipe(
      Options.withDescription("tour a sharded cluster instead: 3 controllers, 3 groups, shards migrating under load")
    )
  },
  (o) =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = o.keep ? yield* fs.makeTempDirectory({ prefix: "concord-demo-" }) : yield* fs.makeTempDirectoryScoped({ prefix: "concord-demo-" })
      if (o.shard) return yield* DemoShard.run({ dir, clients: o.clients, keep: o.keep })
      const host = "127.0.0.1"
      const ports = yield* Effect.forEach(Array.from({ length: 6 }), () => freePort(host))
      const l = layout(3, host, 0, 0, dir)
      Object.keys(l.peers).forEach((id, i) => {
        l.peers[id] = `${host}:${ports[i]}`
        l.http[id] = ports[i + 3]!
      })
      const ids = Object.keys(l.peers)
      const quiet = () => {}

      yield* Console.log(`1. Starting 3 nodes (${Object.values(l.peers).join(", ")}; data in ${dir})`)
      const children = yield* startNodes(l, host, quiet).pipe(Effect.catchAll((m) => Effect.fail(new Error(m))))
      const transport = yield* Tcp.make({ self: "concord-demo", peers: l.peers, callTimeout: "500 millis" })
      const provide = Effect.provideService(Transport, transport)
      const probe = yield* KvClient.make({ servers: ids }).pipe(provide)
      const leaderOf = Effect.gen(function*() {
        const deadline = now() + 10_000
        while (now() < deadline) {
          const rows = yield* statuses(probe, ids)
          const leader = rows.find(([, s]) => s?.role === "Leader")
          if (leader !== undefined) return { id: leader[0], status: leader[1]! }
          yield* Effect.sleep("50 millis")
        }
        return yield* Effect.fail(new Error("no leader elected within 10 s"))
      })
      const first = yield* leaderOf
      yield* Console.log(`   leader: ${first.id} (term ${first.status.term})`)

      // Every operation any client makes is recorded for the checker.
      const history: Array<KvModel.Operation> = []
      const record = <A>(clientId: number, input: KvModel.KvInput, op: Effect.Effect<A, KvClient.KvError>, out: (a: A) => KvModel.KvOutput) =>
        Effect.gen(function*() {
          const call = now()
          const a = yield* op
          history.push({ clientId, input, output: out(a), call, return: now() })
          return a
        })
      const clients = yield* Effect.forEach(Array.from({ length: o.clients }), () => KvClient.make({ servers: ids }).pipe(provide))
      const keys = 100

      yield* Console.log(`\n2. Load: ${o.operations} operations (put 50%, append 25%, get 25%) on ${keys} keys from ${o.clients} clients`)
      const done = yield* Ref.make(0)
      const t0 = now()
      const tty = process.stdout.isTTY === true
      const progress = yield* Effect.fork(Effect.forever(Effect.gen(function*() {
        const n = yield* Ref.get(done)
        const line = bar(n, o.operations, n / ((now() - t0) / 1000))
        if (tty) process.stdout.write(`\r   ${line}`)
        else yield* Console.log(`   ${line}`)
        yield* Effect.sleep(tty ? "100 millis" : "1 second")
      })))
      yield* Effect.forEach(clients, (c, i) =>
        Effect.gen(function*() {
          const mine = Math.floor(o.operations / o.clients) + (i < o.operations % o.clients ? 1 : 0)
          for (let k = 0; k < mine; k++) {
            const key = `key-${(i * 7 + k * 13) % keys}`
            const roll = (k * 31 + i) % 4
            if (roll < 2) yield* record(i, { op: "put", key, value: `${i}.${k}` }, c.put(key, `${i}.${k}`, { timeout: "10 seconds" }), () => ({}))
            else if (roll === 2) yield* record(i, { op: "append", key, value: `+${i}.${k}` }, c.append(key, `+${i}.${k}`, { timeout: "10 seconds" }), () => ({}))
            else yield* record(i, { op: "get", key }, c.get(key, { timeout: "10 seconds" }), (value) => ({ value }))
            yield* Ref.update(done, (n) => n + 1)
          }
        }), { concurrency: "unbounded", discard: true })
      yield* Fiber.interrupt(progress)
      const loadSeconds = (now() - t0) / 1000
      const line = bar(o.operations, o.operations, o.operations / loadSeconds)
      yield* Console.log(tty ? `\r   ${line}\n   done in ${loadSeconds.toFixed(2)} s` : `   ${line}; done in ${loadSeconds.toFixed(2)} s`)

      yield* Console.log(`\n3. Failover: SIGKILL the leader while a client keeps writing`)
      const victim = yield* leaderOf
      const writer = clients[0]!
      const killedAt = yield* Deferred.make<number>()
      const firstAck = yield* Deferred.make<number>()
      const writes = yield* Effect.fork(Effect.gen(function*() {
        for (let k = 0; ; k++) {
          const start = now()
          yield* record(0, { op: "put", key: "failover", value: String(k) }, writer.put("failover", String(k), { timeout: "10 seconds" }), () => ({}))
          const killed = yield* Deferred.poll(killedAt)
          if (killed._tag === "Some" && start >= (yield* killed.value)) {
            yield* Deferred.succeed(firstAck, now())
            return
          }
        }
      }))
      yield* Effect.sleep("300 millis")
      children.get(victim.id)!.process.kill("SIGKILL")
      const kill = now()
      yield* Deferred.succeed(killedAt, kill)
      const ack = yield* Deferred.await(firstAck)
      yield* Fiber.join(writes)
      const next = yield* leaderOf
      yield* Console.log(`   killed ${victim.id} (leader, term ${victim.status.term}); the next write was acknowledged ${(ack - kill).toFixed(0)} ms later; new leader ${next.id} (term ${next.status.term})`)

      yield* Console.log(`\n4. Restart ${victim.id} from its data directory and let it catch up`)
      yield* stop(children.get(victim.id)!)
      const restartedAt = now()
      const again = yield* startNode(l, victim.id, host, quiet)
      children.set(victim.id, again)
      yield* Deferred.await(again.ready).pipe(Effect.mapError((e) => new Error(`restarting ${victim.id} failed: it ${describeExit(e)}`)))
      const target = (yield* leaderOf).status.commit
      for (;;) {
        const s = yield* Effect.either(probe.status(victim.id))
        if (s._tag === "Right" && s.right.applied >= target) {
          yield* Console.log(`   ${victim.id} is back as ${s.right.role.toLowerCase()} and has applied through index ${s.right.applied} (leader's commit was ${target}), ${((now() - restartedAt) / 1000).toFixed(2)} s after the restart`)
          break
        }
        if (now() - restartedAt > 20_000) return yield* Effect.fail(new Error(`${victim.id} did not catch up within 20 s`))
        yield* Effect.sleep("50 millis")
      }

      yield* Console.log(`\n5. Check the ${history.length} recorded operations for linearizability`)
      const c0 = now()
      const result = Linearizability.checkHistory(KvModel.model, history, { timeoutMs: 30_000, now })
      if (Linearizability.isOk(result)) {
        const keys = result.partitions.length
        yield* Console.log(`   linearizable (${keys} key${keys === 1 ? "" : "s"}, checked in ${(now() - c0).toFixed(0)} ms)`)
      } else {
        const file = `${dir}/history.html`
        yield* HtmlView.writeFile(file, KvModel.model, history, result)
        yield* Console.log(`   ${Linearizability.explain(KvModel.model, history, result)}\n   view: ${file}`)
        return yield* exitWith(ExitCode.Failed)
      }
      yield* Console.log(`\nDone. Stopping the cluster${o.keep ? `; the data stays in ${dir}` : ""}.`)
    }).pipe(
      Effect.scoped,
      Effect.catchIf((e): e is Error => e instanceof Error, (e) => fail("demo", ExitCode.Failed, e.message))
    )
).pipe(Command.withDescription("a scripted tour: load a 3-node cluster, kill its leader, restart it, check the history"))

export const command = demo
