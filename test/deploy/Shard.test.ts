/**
 * The sharded key/value service as real processes on loopback (3 `shard ctrl serve`, 2 groups of 3
 * `shard serve`, file storage): shards migrate under load while a replica of the sending and one of
 * the receiving group are killed with SIGKILL and restarted; every acknowledged write is there
 * afterwards, through any replica's HTTP API; the old owner's data falls to what it still owns; and
 * malformed input on every port leaves every server serving.
 */
import { Effect, Layer } from "effect"
import * as net from "node:net"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import * as Tcp from "../../src/rpc/Tcp.js"
import { shardOfKey } from "../../src/shardctrler/Config.js"
import * as ShardKvClient from "../../src/shardkv/ShardKvClient.js"
import { concord, deployment, freePort, http, type Server, spawnServer, until, work } from "./support.js"

deployment()

const peersText = (m: Record<string, string>) => Object.entries(m).map(([id, a]) => `${id}=${a}`).join(",")

describe("shard serve", () => {
  it("migrations under load survive SIGKILL in the sending and the receiving group; GC; bad input", async () => {
    const port = () => freePort()
    const ctrl: Record<string, string> = {}
    for (const id of ["c1", "c2", "c3"]) ctrl[id] = `127.0.0.1:${await port()}`
    const groups: Record<number, Record<string, string>> = {}
    const httpOf: Record<string, number> = {}
    for (const gid of [100, 101]) {
      groups[gid] = {}
      for (const id of ["n1", "n2", "n3"]) {
        groups[gid]![id] = `127.0.0.1:${await port()}`
        httpOf[`${gid}-${id}`] = await port()
      }
    }
    const servers = new Map<string, Server>()
    const startCtrl = (id: string) =>
      spawnServer(id, ["shard", "ctrl", "serve", "--id", id, "--peers", peersText(ctrl), "--data", join(work, "shard", `ctrl-${id}`), "--no-http"])
    const startReplica = (gid: number, id: string) =>
      spawnServer(`${gid}-${id}`, [
        "shard", "serve", "--gid", String(gid), "--id", id, "--peers", peersText(groups[gid]!), "--ctrl", peersText(ctrl),
        "--data", join(work, "shard", `g${gid}-${id}`), "--http-port", String(httpOf[`${gid}-${id}`]), "--max-raft-state", "20000"
      ])
    for (const id of Object.keys(ctrl)) servers.set(id, await startCtrl(id))
    for (const gid of [100, 101]) for (const id of ["n1", "n2", "n3"]) servers.set(`${gid}-${id}`, await startReplica(gid, id))

    const join100 = concord("shard", "join", `100=${Object.values(groups[100]!).join(",")}`, "--ctrl", peersText(ctrl), "--timeout", "20s")
    expect(join100.status, join100.stderr).toBe(0)

    // Load: a client writes 200 keys, appends to them while the shards move, and records what was acknowledged.
    const layer = ShardKvClient.layer({ ctrlers: Object.keys(ctrl), callTimeout: "1 second" }).pipe(
      Layer.provide(Tcp.layer({ self: "shard-test", peers: ctrl }))
    )
    const run = <A>(f: (c: ShardKvClient.ShardKvClientShape) => Effect.Effect<A, unknown>) =>
      Effect.runPromise(Effect.flatMap(ShardKvClient.ShardKvClient, f).pipe(Effect.provide(layer)))
    const keys = Array.from({ length: 200 }, (_, i) => `user:${i}`)
    const acked = new Map<string, string>()
    await run((c) => Effect.forEach(keys, (k) => Effect.tap(c.put(k, "v", { timeout: "20 seconds" }), () => Effect.sync(() => acked.set(k, "v"))), { concurrency: 8, discard: true }))
    let stop = false
    const load = run((c) =>
      Effect.gen(function*() {
        for (let round = 0; !stop; round++) {
          yield* Effect.forEach(keys.slice(0, 50), (k) =>
            Effect.tap(c.append(k, String(round % 10), { timeout: "30 seconds" }), () => Effect.sync(() => acked.set(k, acked.get(k)! + String(round % 10)))), {
            concurrency: 8,
            discard: true
          })
        }
      }))

    // Group 101 joins: half the shards move from 100 to 101. Kill a replica on each side meanwhile.
    const join101 = concord("shard", "join", `101=${Object.values(groups[101]!).join(",")}`, "--ctrl", peersText(ctrl), "--timeout", "20s")
    expect(join101.status, join101.stderr).toBe(0)
    for (const name of ["100-n1", "101-n2"]) {
      servers.get(name)!.child.kill("SIGKILL")
      await servers.get(name)!.exited
    }
    await new Promise((r) => setTimeout(r, 1500))
    servers.set("100-n1", await startReplica(100, "n1"))
    servers.set("101-n2", await startReplica(101, "n2"))
    await new Promise((r) => setTimeout(r, 1500))
    stop = true
    await load

    // Every acknowledged write is there, read through any replica (it forwards to the owner).
    const names = Object.keys(httpOf)
    for (const [i, k] of keys.entries()) {
      const r = await http(httpOf[names[i % names.length]!]!, "GET", `/v1/kv/${encodeURIComponent(k)}`)
      expect(r.json.value, k).toBe(acked.get(k))
    }

    // Garbage collection: every replica of 100 ends up holding exactly the keys of the shards it still owns.
    const q = concord("shard", "query", "--ctrl", peersText(ctrl))
    const owners = q.stdout.split("\n").find((l) => l.startsWith("gid"))!.split(/\s+/).slice(1).map(Number)
    const expectedBytes = (gid: number) =>
      [...acked].filter(([k]) => owners[shardOfKey("hash", 10, k)] === gid).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0)
    for (const gid of [100, 101]) {
      for (const id of ["n1", "n2", "n3"]) {
        await until(`${gid}-${id} to hold only its own shards`, async () => {
          const s = (await http(httpOf[`${gid}-${id}`]!, "GET", "/v1/status")).json
          return s.dataBytes === expectedBytes(gid) && Object.values(s.shards).every((x) => x === "serving") ? true : undefined
        }, 30_000)
      }
    }

    // Malformed input on every port: random bytes and a 2 GB frame on the controller's and a replica's
    // TCP port, nonsense on a replica's HTTP port. Everyone keeps serving.
    const raw = (address: string, bytes: Buffer) =>
      new Promise<void>((resolve) => {
        const [host, p] = address.split(":")
        const s = net.connect({ host: host!, port: Number(p) }, () => s.write(bytes))
        s.on("error", () => resolve())
        s.on("close", () => resolve())
        s.resume()
        setTimeout(() => (s.destroy(), resolve()), 1000)
      })
    const frame = Buffer.alloc(9)
    frame.writeUInt32BE(2 ** 31, 0)
    for (const address of [ctrl.c1!, groups[100]!.n2!, groups[101]!.n3!]) {
      await raw(address, Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 7919) % 256)))
      await raw(address, frame)
    }
    await raw(`127.0.0.1:${httpOf["100-n2"]}`, Buffer.from("\x00\x01 not http\r\n\r\n"))
    const bad = await http(httpOf["101-n1"]!, "PUT", `/v1/kv/${"k".repeat(5000)}`, "x")
    expect(bad.status).toBe(414)
    for (const [name, s] of servers) expect(s.child.exitCode, name).toBeNull()
    expect((await http(httpOf["100-n2"]!, "PUT", "/v1/kv/after", "ok")).status).toBe(200)
    expect(concord("shard", "get", "after", "--ctrl", peersText(ctrl)).stdout.trim()).toBe("ok")
    for (const s of servers.values()) s.child.kill("SIGKILL")
  }, 180_000)
})
