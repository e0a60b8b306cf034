/**
 * Real deployment: `concord kv serve` processes on loopback (a fresh CLI bundle, as shipped), file
 * storage in a temp directory. Every wait is bounded; every process is killed and the directory
 * removed at the end.
 *
 * - Three servers: writes through HTTP and through KvClient (TCP); SIGKILL the leader; the new leader
 *   serves writes; restart the killed node; every acknowledged write is on all three.
 * - Malformed input on both ports never takes a server down, and others keep being served.
 * - A person's mistakes get one-line errors: unknown flag, port in use, someone else's data
 *   directory, a corrupt log, unreachable endpoints.
 */
import { Effect, Layer } from "effect"
import { spawn, spawnSync } from "node:child_process"
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import * as KvClient from "../../src/kv/KvClient.js"
import * as Tcp from "../../src/rpc/Tcp.js"
import { canBind, freeRange } from "../support/ports.js"
import { bundle, cluster, concord, deployment, freePort, http, running, serve, until, work } from "./support.js"

deployment()

describe("three server processes", () => {
  it("acknowledged writes survive SIGKILL of the leader and reach every node", async () => {
    const c = await cluster("failover")
    const acked = new Map<string, string>()
    const layer = KvClient.layer({ servers: c.ids, callTimeout: "1 second" }).pipe(
      Layer.provide(Tcp.layer({ self: "test-client", peers: c.peerMap }))
    )
    const tcpWrite = (key: string, value: string) =>
      Effect.runPromise(Effect.flatMap(KvClient.KvClient, (kv) => kv.put(key, value, { timeout: "15 seconds" })).pipe(Effect.provide(layer)))
        .then(() => acked.set(key, value))

    // Writes through HTTP (to every node; followers forward) and through the TCP client.
    for (let i = 0; i < 10; i++) {
      const id = c.ids[i % 3]!
      const r = await http(c.httpOf[id]!, "PUT", `/v1/kv/http-${i}`, `h${i}`)
      expect(r.status, JSON.stringify(r.json)).toBe(200)
      acked.set(`http-${i}`, `h${i}`)
      await tcpWrite(`tcp-${i}`, `t${i}`)
    }
    const appended = await http(c.httpOf.n2!, "POST", "/v1/kv/http-0/append", "+more")
    expect(appended.status).toBe(200)
    acked.set("http-0", "h0+more")

    // SIGKILL the leader; the survivors elect a new one that takes writes.
    const old = await c.leader()
    c.servers.get(old)!.child.kill("SIGKILL")
    await c.servers.get(old)!.exited
    c.servers.delete(old)
    const next = await c.leader()
    expect(next).not.toBe(old)
    for (let i = 10; i < 20; i++) {
      await tcpWrite(`tcp-${i}`, `t${i}`)
      const r = await http(c.httpOf[next]!, "PUT", `/v1/kv/http-${i}`, `h${i}`)
      expect(r.status).toBe(200)
      acked.set(`http-${i}`, `h${i}`)
    }

    // Restart the killed node from its data directory; it catches up.
    c.servers.set(old, await serve(old, c.peers, c.dataOf(old), c.httpOf[old]!))
    const target = (await http(c.httpOf[next]!, "GET", "/v1/status")).json.commit as number
    await until(`${old} to catch up`, async () => ((await http(c.httpOf[old]!, "GET", "/v1/status")).json.applied >= target ? true : undefined))

    // Every acknowledged write is in every node's own copy.
    for (const id of c.ids) {
      for (const [key, value] of acked) {
        const r = await http(c.httpOf[id]!, "GET", `/v1/kv/${key}?consistency=local`)
        expect(r.json.value, `${key} on ${id}`).toBe(value)
      }
    }
    // And a linearizable read through any node sees them too.
    expect((await http(c.httpOf[old]!, "GET", "/v1/kv/tcp-19")).json.value).toBe("t19")
    for (const s of c.servers.values()) s.child.kill("SIGTERM")
    const codes = await Promise.all([...c.servers.values()].map((s) => s.exited))
    expect(codes).toEqual([0, 0, 0].map(() => expect.anything()))
  }, 120_000)

  it("X-Client-Id and X-Request-Seq make a retried HTTP write execute once", async () => {
    const c = await cluster("exactly-once")
    const headers = { "x-client-id": "424242", "x-request-seq": "1" }
    for (let attempt = 0; attempt < 3; attempt++) {
      // The same request sent three times (as a client would after timeouts), to different nodes.
      const r = await http(c.httpOf[c.ids[attempt]!]!, "POST", "/v1/kv/counter/append", "x", headers)
      expect(r.status).toBe(200)
    }
    await http(c.httpOf.n1!, "POST", "/v1/kv/counter/append", "y", { ...headers, "x-request-seq": "2" })
    expect((await http(c.httpOf.n3!, "GET", "/v1/kv/counter")).json.value).toBe("xy")
    for (const s of c.servers.values()) s.child.kill("SIGKILL")
  }, 60_000)
})

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe("concord cluster up", () => {
  it("a client started first waits for it; banner first; a node killed with SIGKILL is restarted; its nodes die with it", async () => {
    const [base, httpBase] = [await freeRange(3), await freeRange(3)]
    const endpoints = [0, 1, 2].map((i) => `127.0.0.1:${base + i}`).join(",")
    const env = { ...process.env, CONCORD_ENDPOINTS: endpoints }
    // A client started before the cluster: it keeps trying until its --timeout (it gave up at once before).
    const early = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [bundle, "kv", "put", "early", "bird", "--timeout", "30s"], { env, stdio: ["ignore", "pipe", "pipe"] })
      running.add(child)
      let stdout = ""
      let stderr = ""
      child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d))
      child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d))
      child.on("exit", (code) => {
        running.delete(child)
        resolve({ code, stdout, stderr })
      })
    })
    const up = spawn(process.execPath, [bundle, "cluster", "up", "--data", join(work, "up"), "--base-port", String(base), "--http-base-port", String(httpBase)], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    running.add(up)
    let out = ""
    up.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d))
    up.stderr!.setEncoding("utf8").on("data", (d: string) => (out += d))
    const upExited = new Promise<void>((r) => up.on("exit", () => r()))
    const lines = () => out.split("\n")

    await until("a leader", async () => (/status: leader n\d/.test(out) ? true : undefined), 20_000)
    // The banner comes before any node's log line, and says how to reach the cluster.
    expect(lines().find((l) => l.trim() !== "")).toBe(`Concord key/value cluster: 3 nodes, data in ${join(work, "up")}`)
    expect(lines()).toContain(`  export CONCORD_ENDPOINTS=${endpoints}`)
    const pids = Object.fromEntries([...out.matchAll(/^ {2}(n\d) {2}Raft\/KV \S+ +HTTP \S+ +pid (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]))
    expect(Object.keys(pids)).toEqual(["n1", "n2", "n3"])
    expect(await early).toMatchObject({ code: 0, stdout: "OK\n" })

    // Client verbs read CONCORD_ENDPOINTS, and take the value from stdin with "-".
    const put = spawnSync(process.execPath, [bundle, "kv", "put", "piped", "-"], { env, input: "line 1\nline 2\n", encoding: "utf8", timeout: 30_000 })
    expect(put.stdout, put.stderr).toBe("OK\n")
    expect(spawnSync(process.execPath, [bundle, "kv", "get", "piped"], { env, encoding: "utf8", timeout: 30_000 }).stdout).toBe("line 1\nline 2\n\n")

    // SIGKILL one node: the kill is reported on a line of its own, and the node is started again.
    process.kill(pids.n2!, "SIGKILL")
    await until("n2 restarted", async () => (/^\[n2\] restarted \(pid \d+\)$/m.test(out) ? true : undefined), 20_000)
    expect(lines()).toContain("[n2] killed by SIGKILL")
    expect(lines()).toContain("[n2] restarting it in 1s (restart 1)")
    const n2 = Number(/^\[n2\] restarted \(pid (\d+)\)$/m.exec(out)![1])
    expect(n2).not.toBe(pids.n2)
    // The restarted node serves (its HTTP server may take a moment after its listening line).
    expect(await until("n2 to serve", async () => (await http(httpBase + 1, "GET", "/v1/kv/early")).json.value)).toBe("bird")

    // SIGKILL cluster up itself: its nodes see their stdin close and stop; the ports are free again.
    up.kill("SIGKILL")
    await upExited
    const nodes = [pids.n1!, n2, pids.n3!]
    await until("the nodes to exit", async () => (nodes.every((pid) => !alive(pid)) ? true : undefined), 15_000)
    const again = await Promise.all([base, base + 1, base + 2, httpBase, httpBase + 1, httpBase + 2].map(canBind))
    expect(again).toEqual([true, true, true, true, true, true])
  }, 90_000)
})

describe("bad input never takes a server down", () => {
  it("malformed frames on the Raft/KV port and malformed requests on the HTTP port", async () => {
    const c = await cluster("malformed")
    const [host, portText] = c.peerMap.n1!.split(":")
    const port = Number(portText)
    const raw = (bytes: Buffer, end = false) =>
      new Promise<void>((resolve) => {
        const s = net.connect({ host: host!, port }, () => (end ? s.end(bytes) : s.write(bytes)))
        s.on("error", () => resolve())
        s.on("close", () => resolve())
        s.resume()
        setTimeout(() => {
          s.destroy()
          resolve()
        }, 2000)
      })
    const frame = (length: number, kind: number) => {
      const b = Buffer.alloc(9)
      b.writeUInt32BE(length, 0)
      b[4] = kind
      b.writeUInt32BE(1, 5)
      return b
    }
    await raw(Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256))) // random bytes
    await raw(frame(2 ** 31, 0)) // a 2 GB length prefix
    await raw(frame(100, 0).subarray(0, 7), true) // a truncated frame
    await raw(Buffer.concat([frame(13, 0), Buffer.from([0xc1, 0xc1, 0xc1, 0xc1])])) // a frame that does not decode

    const bad: ReadonlyArray<readonly [string, string, string | undefined, Record<string, string>, number, string]> = [
      ["PUT", "/v1/kv/j", "{not json", { "content-type": "application/json" }, 400, "bad_json"],
      ["PUT", "/v1/kv/j", '{"value": 3}', { "content-type": "application/json" }, 400, "bad_json"],
      ["GET", `/v1/kv/${"k".repeat(5000)}`, undefined, {}, 414, "key_too_large"],
      ["PUT", "/v1/kv/big", "v".repeat(2 * 1024 * 1024), {}, 413, "value_too_large"],
      ["GET", "/v1/kv/%E0%A4%A", undefined, {}, 400, "bad_request"],
      ["PUT", "/v1/kv/h", "x", { "x-client-id": "1" }, 400, "bad_request"],
      ["PUT", "/v1/kv/h", "x", { "x-client-id": "-5", "x-request-seq": "1" }, 400, "bad_request"],
      ["PATCH", "/v1/kv/h", "x", {}, 405, "method_not_allowed"],
      ["GET", "/v2/nothing", undefined, {}, 404, "not_found"]
    ]
    for (const [method, path, body, headers, status, code] of bad) {
      const r = await http(c.httpOf.n1!, method, path, body, headers)
      expect(r.status, `${method} ${path.slice(0, 30)}`).toBe(status)
      expect(r.json.error.code).toBe(code)
      expect(typeof r.json.error.message).toBe("string")
    }
    // A request that is not HTTP at all on the HTTP port.
    await new Promise<void>((resolve) => {
      const s = net.connect({ host: "127.0.0.1", port: c.httpOf.n1! }, () => s.end("\x00\x01 not http\r\n\r\n"))
      s.on("close", () => resolve())
      s.on("error", () => resolve())
      s.resume()
    })

    // Still alive and serving.
    expect(c.servers.get("n1")!.child.exitCode).toBeNull()
    expect((await http(c.httpOf.n1!, "PUT", "/v1/kv/after", "ok")).status).toBe(200)
    expect((await http(c.httpOf.n2!, "GET", "/v1/kv/after")).json.value).toBe("ok")
    expect(concord("kv", "get", "after", "--endpoints", c.peerMap.n1!).stdout.trim()).toBe("ok")
    for (const s of c.servers.values()) s.child.kill("SIGKILL")
  }, 60_000)
})

describe("one-line errors for a person's mistakes", () => {
  const oneLine = (r: { stderr: string; status: number | null }, code: number, text: string) => {
    expect(r.status).toBe(code)
    expect(r.stderr).toContain(text)
  }

  it("an unknown flag, a peer list without this node, a port in use", async () => {
    oneLine(concord("kv", "serve", "--id", "n1", "--bogus"), 3, "--bogus")
    const r = concord("kv", "serve", "--id", "n9", "--data", join(work, "x"))
    oneLine(r, 3, "--id n9 is not among --peers")
    expect(r.stderr.trim().split("\n").length).toBe(1)
    const blocker = net.createServer()
    const port = await new Promise<number>((res) => blocker.listen(0, "127.0.0.1", () => res((blocker.address() as net.AddressInfo).port)))
    const inUse = concord("kv", "serve", "--id", "n1", "--peers", `n1=127.0.0.1:${port}`, "--data", join(work, "inuse"), "--no-http")
    oneLine(inUse, 1, `cannot listen on 127.0.0.1:${port}: address already in use`)
    expect(inUse.stderr.trim().split("\n").length).toBe(1)
    blocker.close()
  })

  it("a data directory of another node, a corrupt log", async () => {
    const dir = join(work, "identity")
    const port = await freePort()
    const first = await serve("n1", `n1=127.0.0.1:${port}`, dir, 0)
    await until("a write", async () => (concord("kv", "put", "a", "b", "--endpoints", `127.0.0.1:${port}`).status === 0 ? true : undefined))
    first.child.kill("SIGTERM")
    expect(await first.exited).toBe(0)
    const other = concord("kv", "serve", "--id", "n2", "--peers", `n2=127.0.0.1:${port}`, "--data", dir, "--no-http")
    oneLine(other, 1, "belongs to node n1")
    // A torn tail (a crash in the middle of a write) is truncated, logged on stderr, and the node starts.
    const walDir = join(dir, "wal")
    const segment = join(walDir, readdirSync(walDir).sort()[0]!)
    appendFileSync(segment, Buffer.from([0, 0, 1, 0, 7, 7]))
    const torn = await serve("n1", `n1=127.0.0.1:${port}`, dir, 0)
    // (stderr and stdout are separate pipes: the warning, written first, may arrive after the ready line)
    await until("the torn-tail warning", async () => (/dropped a torn tail of 6 bytes/.test(torn.stderr()) ? true : undefined), 5_000)
    torn.child.kill("SIGTERM")
    expect(await torn.exited).toBe(0)
    // Damage in the middle of the log refuses to start, naming the file and the offset.
    const bytes = readFileSync(segment)
    bytes[Math.floor(bytes.length / 3)]! ^= 0xff
    writeFileSync(segment, bytes)
    const corrupt = concord("kv", "serve", "--id", "n1", "--peers", `n1=127.0.0.1:${port}`, "--data", dir, "--no-http")
    oneLine(corrupt, 1, `corrupt log in ${segment}`)
    expect(corrupt.stderr).toMatch(/at byte \d+/)
    expect(corrupt.stderr.trim().split("\n").length).toBe(1)
  }, 60_000)

  it("a second node on a data directory in use is refused, naming the first's pid; a kill -9 leaves a lock the next start takes over", async () => {
    const dir = join(work, "locked")
    const [port, other] = await Promise.all([freePort(), freePort()])
    const first = await serve("n1", `n1=127.0.0.1:${port}`, dir, 0)
    const second = concord("kv", "serve", "--id", "n1", "--peers", `n1=127.0.0.1:${other}`, "--data", dir, "--no-http")
    oneLine(second, 1, `concord kv serve: storage error at ${join(dir, "LOCK")}: data directory ${dir} is in use by process ${first.child.pid}`)
    expect(second.stderr.trim().split("\n").length).toBe(1)
    first.child.kill("SIGKILL")
    await first.exited
    const again = await serve("n1", `n1=127.0.0.1:${port}`, dir, 0)
    await until("the takeover warning", async () => (again.stderr().includes(`process ${first.child.pid}, which held it, is gone`) ? true : undefined), 5_000)
    again.child.kill("SIGTERM")
    expect(await again.exited).toBe(0)
    expect(existsSync(join(dir, "LOCK"))).toBe(false)
  }, 60_000)

  it("client verbs with no reachable endpoint", async () => {
    const port = await freePort()
    const r = concord("kv", "get", "x", "--endpoints", `127.0.0.1:${port}`, "--timeout", "1s")
    oneLine(r, 1, "no endpoint reachable")
    expect(r.stderr.trim().split("\n").length).toBe(1)
    oneLine(concord("kv", "put", "x"), 3, "")
  })
})
