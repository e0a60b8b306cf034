/**
 * The operator side of a real node (`concord kv serve` processes on loopback): `/metrics` scraped,
 * parsed strictly and moving with the load sent, and `/health` with and without a majority.
 */
import { describe, expect, it } from "vitest"
import { parse, value } from "../support/prometheus.js"
import { join } from "node:path"
import { cluster, deployment, freePort, http, spawnServer, until, work } from "./support.js"

deployment()

const scrape = async (port: number) => {
  const r = await fetch(`http://127.0.0.1:${port}/metrics`)
  expect(r.status).toBe(200)
  expect(r.headers.get("content-type")).toContain("text/plain; version=0.0.4")
  return parse(await r.text())
}

describe("metrics and health", () => {
  it("/metrics parses, its counters move with the load; /health is 200 with a majority, 503 without", async () => {
    const c = await cluster("metrics")
    const leader = await c.leader()
    const follower = c.ids.find((id) => id !== leader)!
    const lh = c.httpOf[leader]!
    // Wait for a first write to go through, so the leader's counters are live.
    await until("a first write", async () => (await http(lh, "PUT", "/v1/kv/warm", "up")).status === 200 || undefined)
    const before = await scrape(lh)
    const fBefore = await scrape(c.httpOf[follower]!)

    const writes = 60
    for (let i = 0; i < writes; i += 10) {
      await Promise.all(Array.from({ length: 10 }, (_, j) => http(lh, "PUT", `/v1/kv/k${i + j}`, "v".repeat(100))))
    }
    for (let i = 0; i < 20; i++) expect((await http(c.httpOf[follower]!, "GET", `/v1/kv/k${i}`)).json.value).toBe("v".repeat(100))
    const after = await scrape(lh)
    const fAfter = await scrape(c.httpOf[follower]!)

    const delta = (name: string, match: Record<string, string> = {}) => value(after, name, match) - value(before, name, match)
    const node = { node: leader }
    // Client requests: the HTTP API forwards to the leader's KV protocol, where they are counted.
    expect(delta("concord_requests_total", { ...node, service: "KV", op: "put", outcome: "ok" })).toBeGreaterThanOrEqual(writes)
    expect(delta("concord_requests_total", { ...node, service: "KV", op: "KvGet", outcome: "ok" })).toBeGreaterThanOrEqual(20)
    expect(delta("concord_request_duration_seconds_count", { ...node, service: "KV", op: "put" })).toBeGreaterThanOrEqual(writes)
    expect(delta("concord_request_duration_seconds_sum", { ...node, op: "put" })).toBeGreaterThan(0)
    // Raft.
    expect(value(after, "concord_raft_role", { ...node, role: "Leader" })).toBe(1)
    expect(value(after, "concord_raft_role", { ...node, role: "Follower" })).toBe(0)
    expect(value(after, "concord_raft_has_leader", node)).toBe(1)
    expect(value(after, "concord_raft_term", node)).toBeGreaterThanOrEqual(1)
    expect(delta("concord_raft_proposals_total")).toBeGreaterThanOrEqual(writes)
    expect(delta("concord_raft_commit_index")).toBeGreaterThanOrEqual(writes)
    expect(delta("concord_raft_applied_index")).toBeGreaterThanOrEqual(writes)
    expect(delta("concord_raft_applied_entries_total")).toBeGreaterThanOrEqual(writes)
    expect(delta("concord_raft_append_entries_sent_total")).toBeGreaterThan(0)
    expect(delta("concord_raft_log_bytes")).toBeGreaterThan(writes * 100)
    expect(value(fAfter, "concord_raft_append_entries_received_total") - value(fBefore, "concord_raft_append_entries_received_total"))
      .toBeGreaterThan(0)
    // Storage: every batch fsynced and timed.
    expect(delta("concord_storage_fsyncs_total")).toBeGreaterThan(0)
    expect(delta("concord_storage_fsync_duration_seconds_count", node)).toBeGreaterThan(0)
    expect(delta("concord_storage_written_bytes_total")).toBeGreaterThan(writes * 100)
    // Transport, per peer: the leader sends the entries to each follower.
    for (const peer of c.ids.filter((id) => id !== leader)) {
      expect(delta("concord_transport_sent_bytes_total", { ...node, peer })).toBeGreaterThan(writes * 100)
      expect(delta("concord_transport_sent_frames_total", { ...node, peer })).toBeGreaterThan(0)
      expect(delta("concord_transport_received_frames_total", { ...node, peer })).toBeGreaterThan(0)
    }
    // The HTTP API's forwarded requests reach this node's own KV server without a socket (no inbound
    // bytes), but they are served by its transport like any other.
    expect(delta("concord_transport_served_total", node)).toBeGreaterThanOrEqual(writes + 20)
    // Every sample is this node's.
    for (const f of after.values()) for (const s of f.samples) expect(s.labels.node, s.name).toBe(leader)

    // Health: every node healthy with all three up.
    for (const id of c.ids) {
      const h = await http(c.httpOf[id]!, "GET", "/health")
      expect(h.status, JSON.stringify(h.json)).toBe(200)
      expect(h.json).toMatchObject({ healthy: true, reason: "", id, leader })
    }
    expect((await http(lh, "POST", "/health")).status).toBe(405)
    // Without a majority: kill two; the survivor reports 503 with the reason, within a few election timeouts.
    const survivor = follower
    for (const id of c.ids.filter((id) => id !== survivor)) {
      c.servers.get(id)!.child.kill("SIGKILL")
      await c.servers.get(id)!.exited
    }
    const down = await until("503 without a majority", async () => {
      const h = await http(c.httpOf[survivor]!, "GET", "/health")
      return h.status === 503 ? h.json : undefined
    }, 10_000)
    expect(down).toMatchObject({ healthy: false, leader: null })
    expect(down.reason).toMatch(/^no leader: this node is (PreCandidate|Candidate|Follower) in term \d+/)
    const m = await scrape(c.httpOf[survivor]!)
    expect(value(m, "concord_raft_has_leader")).toBe(0)
    expect(value(m, "concord_raft_role", { role: "Leader" })).toBe(0)
  }, 90_000)

  it("the shard controller and a shard group serve the same: /metrics, /health, /v1/cluster, /v1/snapshot, the page", async () => {
    const [cp, ch, gp, gh] = await Promise.all([1, 2, 3, 4].map(() => freePort())) as [number, number, number, number]
    await spawnServer("c1", ["shard", "ctrl", "serve", "--id", "c1", "--peers", `c1=127.0.0.1:${cp}`, "--data", join(work, "c1"), "--http-port", String(ch)])
    await spawnServer("g1", [
      "shard", "serve", "--gid", "100", "--id", "g1", "--peers", `g1=127.0.0.1:${gp}`, "--ctrl", `c1=127.0.0.1:${cp}`,
      "--data", join(work, "g1"), "--http-port", String(gh)
    ])
    await until("the join", async () => (await http(ch, "POST", "/v1/join", JSON.stringify({ groups: { "100": [`127.0.0.1:${gp}`] } }))).status === 200 || undefined)
    await until("a write to the group", async () => (await http(gh, "PUT", "/v1/kv/a", "1")).status === 200 || undefined)
    for (const [port, kind, service, id] of [[ch, "ctrl", "ShardCtrler", "c1"], [gh, "shardkv", "ShardKV", "g1"]] as const) {
      const m = await scrape(port)
      expect(value(m, "concord_requests_total", { node: id, service, outcome: "ok" }), kind).toBeGreaterThan(0)
      expect(value(m, "concord_raft_role", { node: id, role: "Leader" })).toBe(1)
      const health = await until(`${kind} healthy`, async () => {
        const h = await http(port, "GET", "/health")
        return h.status === 200 ? h.json : undefined
      })
      expect(health).toMatchObject({ healthy: true, id })
      const view = (await http(port, "GET", "/v1/cluster")).json
      expect(view).toMatchObject({ self: id, kind, members: [{ id, reachable: true, status: { id, role: "Leader", kind } }] })
      const snap = await fetch(`http://127.0.0.1:${port}/v1/snapshot`)
      expect(snap.status).toBe(200)
      expect(snap.headers.get("content-disposition")).toMatch(new RegExp(`filename="concord-${kind}-\\d+\\.snap"`))
      expect(Buffer.from(await snap.arrayBuffer()).subarray(0, 8).toString()).toBe("CCSNAP01")
      const page = await fetch(`http://127.0.0.1:${port}/`)
      expect(page.headers.get("content-type")).toContain("text/html")
      expect(await page.text()).toContain(`<title>Concord · ${id}</title>`)
    }
    // The controller's page reads these for its grid.
    expect((await http(ch, "GET", "/v1/config")).json).toMatchObject({ num: 1, shards: new Array(10).fill(100) })
  }, 60_000)
})
