/**
 * Membership with real processes on loopback (see ./support.ts): a 3-node cluster under HTTP load
 * grows to 5 (`kv serve --join`, `kv member add`, `kv member promote`), one node is replaced (killed
 * for good, a fresh one added, the dead one removed), and the cluster shrinks back to 3 (the removed
 * nodes say so and exit). Every acknowledged write is on every final member, and the recorded history
 * is linearizable.
 */
import { existsSync, rmSync } from "node:fs"
import { describe, expect, it } from "vitest"
import * as Linearizability from "../../src/check/Linearizability.js"
import * as KvModel from "../../src/check/models/Kv.js"
import { cluster, concord, deployment, freePort, http, serve, type Server, until } from "./support.js"

deployment()

describe("membership of a running cluster", () => {
  it("3 nodes under load grow to 5, one is replaced, and they shrink back to 3", async () => {
    const c = await cluster("membership")
    const address = { ...c.peerMap }
    const httpOf: Record<string, number> = { ...c.httpOf }
    const servers = new Map<string, Server>(c.servers)
    const members = new Set(c.ids)
    const endpoints = () => [...members].filter((id) => servers.has(id)).map((id) => address[id]!).join(",")
    const cli = (...args: Array<string>) => concord("kv", ...args, "--endpoints", endpoints(), "--timeout", "10s")

    // -- the load: appends of unique values (and reads) through random members' HTTP ---------------
    const history: Array<KvModel.Operation> = []
    const acked = new Map<string, Array<string>>()
    let stop = false
    const client = async (cli: number) => {
      // A history's clients are sequential: after an operation with no answer, go on as a new client.
      let lane = cli * 100_000
      for (let j = 0; !stop; j++) {
        const live = [...members].filter((id) => servers.has(id))
        const port = httpOf[live[Math.floor(Math.random() * live.length)]!]!
        const key = `k${Math.floor(Math.random() * 3)}`
        const read = j % 4 === 3
        const value = `[${cli}.${j}]`
        const call = performance.now()
        const r = await fetch(`http://127.0.0.1:${port}/v1/kv/${key}${read ? "" : "/append"}`, {
          method: read ? "GET" : "POST",
          signal: AbortSignal.timeout(8000),
          ...(read ? {} : { body: value })
        }).then(async (res) => ({ status: res.status, json: (await res.json()) as any })).catch(() => undefined)
        const ret = performance.now()
        const input: KvModel.KvInput = read ? { op: "get", key } : { op: "append", key, value }
        if (r?.status === 200) {
          history.push({ clientId: lane, input, output: read ? { value: r.json.value } : {}, call, return: ret })
          if (!read) acked.set(key, [...(acked.get(key) ?? []), value])
        } else {
          // No answer, or an error after which it may still take effect: an operation with no return.
          history.push({ clientId: lane++, input, call })
        }
      }
    }
    const clients = [0, 1, 2].map((i) => client(i))
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))
    await pause(1000)

    /** Runs a CLI change until it succeeds (a learner catching up, a change in progress: retried). */
    const change = (what: string, ...args: Array<string>) =>
      until(what, async () => {
        const r = cli("member", ...args)
        if (r.status === 0) return r.stdout.trim()
        if (r.status === 3) throw new Error(`${what}: ${r.stderr}`)
        return undefined
      }, 60_000)

    const join = async (id: string) => {
      const [port, httpPort] = [await freePort(), await freePort()]
      address[id] = `127.0.0.1:${port}`
      httpOf[id] = httpPort
      const s = await serve(id, `${id}=${address[id]}`, c.dataOf(id), httpPort, ["--join", endpoints()])
      servers.set(id, s)
      expect(await change(`add ${id}`, "add", `${id}=${address[id]}`)).toContain(`added ${id} (${address[id]}) as a learner`)
      members.add(id)
      expect(await change(`promote ${id}`, "promote", id)).toContain(`${id} is now a voter`)
    }

    // Grow to 5.
    await join("n4")
    await join("n5")
    let list = cli("member", "list")
    expect(list.status, list.stderr).toBe(0)
    expect(list.stdout.match(/ voter /g)).toHaveLength(5)

    // Replace n2: it dies for good, a fresh n6 joins, n2 is removed.
    servers.get("n2")!.child.kill("SIGKILL")
    await servers.get("n2")!.exited
    servers.delete("n2")
    rmSync(c.dataOf("n2"), { recursive: true, force: true })
    await join("n6")
    expect(await change("remove n2", "remove", "n2")).toMatch(/^removed n2 \(configuration \d+\)$/)
    members.delete("n2")

    // Shrink to 3: remove n1 and n4; each says so and exits by itself.
    for (const id of ["n1", "n4"]) {
      members.delete(id)
      await change(`remove ${id}`, "remove", id)
      const s = servers.get(id)!
      const code = await Promise.race([s.exited, pause(15_000).then(() => "still running")])
      expect(code, `${id} should exit after its removal`).toBe(0)
      expect(s.stderr()).toMatch(new RegExp(`node ${id} was removed from the cluster \\(configuration \\d+\\); exiting`))
      servers.delete(id)
    }
    await pause(1000)
    stop = true
    await Promise.all(clients)

    list = cli("member", "list")
    expect(list.status, list.stderr).toBe(0)
    const final = ["n3", "n5", "n6"]
    for (const id of final) expect(list.stdout).toMatch(new RegExp(`${id}( \\(leader\\))?\\s+voter`))
    expect(list.stdout.match(/ voter /g)).toHaveLength(3)
    expect(existsSync(c.dataOf("n2"))).toBe(false)

    // Every acknowledged write on every final member (its own copy, once it has caught up).
    expect(history.length).toBeGreaterThan(50)
    for (const id of final) {
      for (const [key, values] of acked) {
        await until(`${id} to hold every acknowledged append to ${key}`, async () => {
          const r = await http(httpOf[id]!, "GET", `/v1/kv/${key}?consistency=local`)
          return values.every((v) => (r.json.value as string).includes(v)) ? true : undefined
        }, 20_000)
      }
    }
    const result = Linearizability.checkHistory(KvModel.model, history, { timeoutMs: 30_000, now: () => performance.now() })
    expect(result._tag).toBe("Ok")
    for (const s of servers.values()) s.child.kill("SIGKILL")
  }, 300_000)
})
