/**
 * Backup and restore with real processes: `concord kv snapshot save` while clients write, a new
 * three-node cluster restored from the file (every write acknowledged before the save began is
 * there), `GET /v1/snapshot`, and truncated, corrupted and foreign files refused with one line.
 */
import { spawn } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { bundle, cluster, concord, deployment, freePort, http, running, serve, until, work } from "./support.js"

deployment()

/** `concord <args>` without blocking this process (the load keeps running meanwhile). */
const concordAsync = (...args: ReadonlyArray<string>) =>
  new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [bundle, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    running.add(child)
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d))
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000)
    child.on("exit", (status) => {
      clearTimeout(timer)
      running.delete(child)
      resolve({ status, stdout, stderr })
    })
  })

describe("kv snapshot save / restore", () => {
  it("saves under load; a new 3-node cluster restored from the file has every write acknowledged before the save", async () => {
    const c = await cluster("source")
    const leader = await c.leader()
    const endpoints = Object.values(c.peerMap).join(",")
    // Load: 4 clients writing distinct keys through every node until told to stop.
    const acked = new Map<string, { value: string; at: number }>()
    let stop = false
    const client = async (n: number) => {
      for (let i = 0; !stop; i++) {
        const key = `c${n}-${i}`
        const value = `value-${n}-${i}`
        const r = await http(c.httpOf[c.ids[(n + i) % 3]!]!, "PUT", `/v1/kv/${key}`, value).catch(() => undefined)
        if (r?.status === 200) acked.set(key, { value, at: performance.now() })
      }
    }
    const load = Promise.all([0, 1, 2, 3].map(client))
    await until("some writes", async () => acked.size >= 100 || undefined)
    const file = join(work, "backup.snap")
    const saveStarted = performance.now()
    const saved = await concordAsync("kv", "snapshot", "save", file, "--endpoints", endpoints)
    await until("more writes after the save", async () => [...acked.values()].some((w) => w.at > performance.now() - 50) || undefined)
    stop = true
    await load
    expect(saved.status, saved.stderr).toBe(0)
    const line = /^saved a snapshot at index (\d+) \(term (\d+)\) to (.+): (\d+) bytes, sha256 ([0-9a-f]{64})\n$/.exec(saved.stdout)
    expect(line, saved.stdout).not.toBeNull()
    expect(line![3]).toBe(file)
    expect(Number(line![4])).toBe(readFileSync(file).length)
    const before = [...acked].filter(([, w]) => w.at < saveStarted)
    expect(before.length).toBeGreaterThanOrEqual(100)

    const inspected = concord("kv", "snapshot", "status", file)
    expect(inspected.status, inspected.stderr).toBe(0)
    expect(inspected.stdout).toMatch(new RegExp(
      `^${file}: key/value snapshot at index ${line![1]} \\(term ${line![2]}\\), \\d+ keys, \\d+ client sessions, ${line![4]} bytes, sha256 ${line![5]}; checksum ok\n$`
    ))

    // The same snapshot over HTTP, from a follower (it asks the leader).
    const follower = c.ids.find((id) => id !== leader)!
    const r = await fetch(`http://127.0.0.1:${c.httpOf[follower]}/v1/snapshot`)
    expect(r.status).toBe(200)
    expect(Buffer.from(await r.arrayBuffer()).subarray(0, 8).toString()).toBe("CCSNAP01")
    expect(Number(r.headers.get("x-concord-snapshot-index"))).toBeGreaterThanOrEqual(Number(line![1]))

    // A new cluster on new ports, every member restored from the same file.
    const ports = await Promise.all([1, 2, 3, 4, 5, 6].map(() => freePort()))
    const ids = ["r1", "r2", "r3"]
    const peers = ids.map((id, i) => `${id}=127.0.0.1:${ports[i]}`).join(",")
    for (const id of ids) {
      const out = concord("kv", "snapshot", "restore", file, "--data", join(work, "restored", id), "--id", id, "--peers", peers)
      expect(out.status, out.stderr).toBe(0)
      expect(out.stdout).toContain(`restored ${join(work, "restored", id)} for node ${id} of cluster concord from ${file} (index ${line![1]}, term ${line![2]}`)
      expect(out.stdout).toContain(`concord kv serve --id ${id} --peers ${peers} --data ${join(work, "restored", id)}`)
    }
    const restored = await Promise.all(ids.map((id, i) => serve(id, peers, join(work, "restored", id), ports[i + 3]!)))
    const h = ports[3]!
    await until("the restored cluster's leader", async () => (await http(h, "PUT", "/v1/kv/first", "x")).status === 200 || undefined)
    for (let i = 0; i < before.length; i += 50) {
      const chunk = before.slice(i, i + 50)
      const got = await Promise.all(chunk.map(([key]) => http(ports[3 + (i % 3)]!, "GET", `/v1/kv/${key}`)))
      for (const [j, [key, w]] of chunk.entries()) expect(got[j]!.json.value, key).toBe(w.value)
    }
    // The restored cluster takes new writes and has the snapshot's applied index.
    expect((await http(ports[4]!, "PUT", "/v1/kv/after-restore", "yes")).status).toBe(200)
    expect((await http(ports[5]!, "GET", "/v1/kv/after-restore")).json.value).toBe("yes")
    const status = (await http(h, "GET", "/v1/status")).json
    expect(status.applied).toBeGreaterThan(Number(line![1]))
    for (const s of restored) s.child.kill("SIGKILL")

    // Damaged and foreign files are refused with one line, and nothing is written.
    const bytes = readFileSync(file)
    const truncated = join(work, "truncated.snap")
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 100))
    const corrupted = join(work, "corrupted.snap")
    const flipped = Buffer.from(bytes)
    flipped[Math.floor(bytes.length / 2)]! ^= 0x40
    writeFileSync(corrupted, flipped)
    const foreign = join(work, "foreign.snap")
    writeFileSync(foreign, "hello, not a snapshot\n")
    const cases: ReadonlyArray<readonly [string, RegExp]> = [
      [truncated, /^concord kv snapshot restore: snapshot file .*truncated\.snap: truncated: \d+ bytes of \d+\n$/],
      [corrupted, /^concord kv snapshot restore: snapshot file .*corrupted\.snap: checksum mismatch: the file is corrupted\n$/],
      [foreign, /^concord kv snapshot restore: snapshot file .*foreign\.snap: not a Concord snapshot file \(it does not begin with CCSNAP01\)\n$/]
    ]
    for (const [f, message] of cases) {
      const out = concord("kv", "snapshot", "restore", f, "--data", join(work, "bad", "n1"), "--id", "n1", "--peers", peers.replace(/r/g, "n"))
      expect(out.status, f).toBe(3)
      expect(out.stderr).toMatch(message)
    }
    const checked = concord("kv", "snapshot", "status", corrupted)
    expect(checked.status).toBe(3)
    expect(checked.stderr).toMatch(/^concord kv snapshot status: snapshot file .*corrupted\.snap: checksum mismatch: the file is corrupted\n$/)
    const missing = concord("kv", "snapshot", "restore", join(work, "nope.snap"), "--data", join(work, "bad", "n1"), "--id", "n1", "--peers", "n1=127.0.0.1:1")
    expect(missing.status).toBe(3)
    expect(missing.stderr).toMatch(/^concord kv snapshot restore: cannot read .*nope\.snap: .*\n$/)
    // Over an existing node's data directory: refused.
    const over = concord("kv", "snapshot", "restore", file, "--data", c.dataOf(leader), "--id", leader, "--peers", c.peers)
    expect(over.status).toBe(1)
    expect(over.stderr).toMatch(/is not empty .*; restore into a new directory\n$/)
    expect(over.stderr.split("\n").length).toBe(2)
  }, 120_000)
})
