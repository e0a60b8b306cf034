/**
 * The status page's rendering, without a browser: the pure functions' HTML, and the page's own script
 * (the same functions' source) run in a `vm` context with a tiny DOM shim and a scripted `fetch`.
 */
import { runInNewContext, Script } from "node:vm"
import { describe, expect, it } from "vitest"
import * as Prometheus from "../../src/ops/Prometheus.js"
import * as StatusPage from "../../src/ops/StatusPage.js"

const status = (id: string, role: string, leader: string | null, over: Partial<StatusPage.MemberStatus> = {}): StatusPage.MemberStatus => ({
  id, role, term: 4, leader, commit: 120, applied: 118, lastIndex: 121, snapshotIndex: 100, logBytes: 2048, snapshotBytes: 512, diskBytes: 4096, ...over
})

const view = (leader: string, down: ReadonlyArray<string> = []): StatusPage.ClusterView => ({
  self: "n1",
  kind: "kv",
  members: ["n1", "n2", "n3"].map((id, i) =>
    down.includes(id)
      ? { id, address: `127.0.0.1:700${i + 1}`, reachable: false, error: "Timeout: call to " + id + " failed" }
      : { id, address: `127.0.0.1:700${i + 1}`, reachable: true, status: status(id, id === leader ? "Leader" : "Follower", leader) }
  )
})

const rows = (html: string) => [...html.matchAll(/<tr class="member ([a-z]*)" data-id="([^"]*)" data-role="([^"]*)">/g)].map((m) => ({
  cls: m[1], id: m[2], role: m[3]
}))

describe("status page rendering", () => {
  it("members: one row each, the leader highlighted, an unreachable member greyed with why, text escaped", () => {
    const html = StatusPage.renderMembers(view("n2"))
    expect(rows(html)).toEqual([
      { cls: "", id: "n1", role: "Follower" },
      { cls: "leader", id: "n2", role: "Leader" },
      { cls: "", id: "n3", role: "Follower" }
    ])
    expect(html).toContain("<td>2.0 KiB</td>")
    expect(html).toContain("n1 <small>(this node)</small>")
    const down = StatusPage.renderMembers(view("n2", ["n3"]))
    expect(rows(down)[2]).toEqual({ cls: "down", id: "n3", role: "unreachable" })
    expect(down).toContain("Timeout: call to n3 failed")
    const evil = StatusPage.renderMembers({ self: "x", kind: "kv", members: [{ id: "<b>", address: "\"a\"", reachable: false }] })
    expect(evil).toContain("data-id=\"&lt;b&gt;\"")
    expect(evil).not.toContain("<b>")
    expect(StatusPage.renderSummary(view("n2", ["n3"]))).toMatch(/leader <b class="leader-name">n2<\/b> · term 4 · <span class="up">2\/3<\/span>/)
    expect(StatusPage.renderSummary(view("n2", ["n1", "n2", "n3"]))).toContain("no leader")
  })

  it("the leader is the one most members follow, not a stale self-declared one", () => {
    const v = view("n2")
    const stale = { ...v, members: v.members.map((m) => m.id === "n1" ? { ...m, status: status("n1", "Leader", "n1", { term: 3 }) } : m) }
    expect(StatusPage.leaderOf(stale)).toBe("n2")
  })

  it("chart: rates from two scrapes of /metrics text, one polyline per series", () => {
    const text = (requests: number, sum: number, count: number, applied: number) =>
      Prometheus.render([
        { name: "concord_requests_total", type: "counter", help: "r", samples: [{ labels: { op: "put" }, value: requests }, { labels: { op: "KvGet" }, value: 10 }] },
        { name: "concord_request_duration_seconds", type: "histogram", help: "d", samples: [{ labels: {}, value: { buckets: [[Infinity, count]], count, sum } }] },
        { name: "concord_raft_applied_entries_total", type: "counter", help: "a", samples: [{ labels: {}, value: applied }] }
      ])
    const a = StatusPage.parseMetrics(text(100, 1, 100, 50), 0)
    expect(a).toEqual({ atMs: 0, requests: 110, latencySum: 1, latencyCount: 100, applied: 50 })
    const b = StatusPage.parseMetrics(text(300, 1.4, 300, 250), 2000)
    const points = StatusPage.rates([a, b])
    expect(points).toHaveLength(1)
    expect(points[0]!.requestsPerSec).toBe(100)
    expect(points[0]!.appliedPerSec).toBe(100)
    expect(points[0]!.latencyMs).toBeCloseTo(2, 6)
    const svg = StatusPage.renderChart([...points, { atMs: 3000, requestsPerSec: 50, appliedPerSec: 40, latencyMs: null }])
    expect(svg.match(/<polyline/g)).toHaveLength(3)
    expect(svg).toContain("requests served here 50/s · entries applied 40/s · mean latency —")
    expect(StatusPage.renderChart([])).toContain("collecting…")
  })

  it("shard controller: the config as a shard → group grid and the recent configs", () => {
    const latest = { num: 3, shards: [100, 100, 101, 101, 0], groups: { "100": ["a:1"], "101": ["b:1", "b:2"] } }
    const html = StatusPage.renderConfig(latest, [{ num: 2, shards: [100, 100, 100, 100, 0], groups: { "100": ["a:1"] } }])
    expect([...html.matchAll(/data-shard="(\d+)" data-gid="(\d+)"/g)].map((m) => [Number(m[1]), Number(m[2])])).toEqual([
      [0, 100], [1, 100], [2, 101], [3, 101], [4, 0]
    ])
    expect(html).toContain("<b>101</b>: b:1, b:2 — 2 shards")
    expect(html).toContain("<li data-num=\"2\">config 2: 1 groups · 100 100 100 100 0</li>")
  })

  it("the page is self-contained: inline CSS and script, nothing fetched from elsewhere, the script compiles", () => {
    const html = StatusPage.page("n<1>")
    expect(html).toContain("<title>Concord · n&lt;1&gt;</title>")
    expect(html).not.toMatch(/<link|<img|src=|@import|url\(|https?:\/\//i)
    const script = /<script>\n([\s\S]*)<\/script>/.exec(html)![1]!
    expect(() => new Script(script)).not.toThrow()
    expect(script).not.toMatch(/fetch\("http/)
  })

  it("the page's script renders into the DOM and follows a leader change (a DOM shim, a scripted fetch)", async () => {
    const elements = new Map<string, { innerHTML: string }>()
    const attributes = new Map<string, string>()
    const timers: Array<() => void> = []
    let current = view("n1")
    const fetched: Array<string> = []
    const metricsText = (n: number) => `# TYPE concord_requests_total counter\nconcord_requests_total{node="n1"} ${n}\n`
    let scrapes = 0
    const sandbox = {
      document: {
        getElementById: (id: string) => {
          if (!elements.has(id)) elements.set(id, { innerHTML: "" })
          return elements.get(id)!
        },
        body: { setAttribute: (k: string, v: string) => attributes.set(k, v) }
      },
      fetch: async (url: string) => {
        fetched.push(url)
        return url === "/v1/cluster"
          ? { json: async () => JSON.parse(JSON.stringify(current)) }
          : { text: async () => metricsText(100 * ++scrapes) }
      },
      setTimeout: (f: () => void) => timers.push(f),
      location: { hash: "" },
      Date
    }
    const script = /<script>\n([\s\S]*)<\/script>/.exec(StatusPage.page("n1", 500))![1]!
    runInNewContext(script, sandbox)
    const settle = async (updates: number) => {
      for (let i = 0; i < 100 && attributes.get("data-updates") !== String(updates); i++) await new Promise((r) => setImmediate(r))
      expect(attributes.get("data-updates")).toBe(String(updates))
    }
    await settle(1)
    expect(rows(elements.get("members")!.innerHTML).filter((r) => r.cls === "leader").map((r) => r.id)).toEqual(["n1"])
    expect(elements.get("summary")!.innerHTML).toContain("leader <b class=\"leader-name\">n1</b>")
    current = view("n2", ["n1"])
    timers.shift()!()
    await settle(2)
    const after = rows(elements.get("members")!.innerHTML)
    expect(after.filter((r) => r.cls === "leader").map((r) => r.id)).toEqual(["n2"])
    expect(after.find((r) => r.id === "n1")!.cls).toBe("down")
    expect(elements.get("events")!.innerHTML).toMatch(/leader n1 → n2/)
    expect(elements.get("chart")!.innerHTML).toContain("<polyline")
    expect(fetched.every((u) => u.startsWith("/"))).toBe(true)
    expect(elements.get("config")?.innerHTML ?? "").toBe("")
  })

  it("on a shard controller, the page's script draws the config grid and fetches each past config once", async () => {
    const elements = new Map<string, { innerHTML: string }>()
    const timers: Array<() => void> = []
    const fetched: Array<string> = []
    const configs = [
      { num: 0, shards: [0, 0, 0], groups: {} },
      { num: 1, shards: [100, 100, 100], groups: { "100": ["a:1"] } },
      { num: 2, shards: [100, 101, 101], groups: { "100": ["a:1"], "101": ["b:1"] } }
    ]
    let updates = ""
    runInNewContext(/<script>\n([\s\S]*)<\/script>/.exec(StatusPage.page("c1"))![1]!, {
      document: {
        getElementById: (id: string) => elements.get(id) ?? elements.set(id, { innerHTML: "" }).get(id)!,
        body: { setAttribute: (_: string, v: string) => (updates = v) }
      },
      fetch: async (url: string) => {
        fetched.push(url)
        const num = /^\/v1\/config\/(\d+)$/.exec(url)
        const body = url === "/v1/cluster"
          ? { ...view("c1"), kind: "ctrl" }
          : url === "/v1/config" ? configs[2] : num !== null ? configs[Number(num[1])] : undefined
        return { json: async () => body, text: async () => "" }
      },
      setTimeout: (f: () => void) => timers.push(f),
      location: { hash: "" },
      Date
    })
    for (const n of ["1", "2"]) {
      for (let i = 0; i < 100 && updates !== n; i++) await new Promise((r) => setImmediate(r))
      expect(updates).toBe(n)
      if (n === "1") timers.shift()!()
    }
    const html = elements.get("config")!.innerHTML
    expect(html).toContain("<h3>config 2</h3>")
    expect([...html.matchAll(/data-gid="(\d+)"/g)].map((m) => m[1])).toEqual(["100", "101", "101"])
    expect([...html.matchAll(/<li data-num="(\d+)"/g)].map((m) => m[1])).toEqual(["1", "0"])
    expect(fetched.filter((u) => u === "/v1/config/1")).toHaveLength(1)
    expect(fetched.filter((u) => u === "/v1/config")).toHaveLength(2)
  })
  it("on a node with a client token, the page sends the token from its #token= fragment, and says so on a 401", async () => {
    const run = async (hash: string) => {
      const elements = new Map<string, { innerHTML: string }>()
      const sent: Array<string | undefined> = []
      let updates = ""
      runInNewContext(/<script>\n([\s\S]*)<\/script>/.exec(StatusPage.page("n1"))![1]!, {
        document: {
          getElementById: (id: string) => elements.get(id) ?? elements.set(id, { innerHTML: "" }).get(id)!,
          body: { setAttribute: (_: string, v: string) => (updates = v) }
        },
        fetch: async (url: string, init?: { headers?: Record<string, string> }) => {
          const auth = init?.headers?.authorization
          sent.push(auth)
          const ok = auth === "Bearer s3cret" || url === "/metrics"
          return { status: ok ? 200 : 401, json: async () => JSON.parse(JSON.stringify(view("n1"))), text: async () => "" }
        },
        setTimeout: () => {},
        location: { hash },
        Date
      })
      for (let i = 0; i < 100 && updates !== "1"; i++) await new Promise((r) => setImmediate(r))
      expect(updates).toBe("1")
      return { error: elements.get("error")!.innerHTML, sent }
    }
    const without = await run("")
    expect(without.error).toContain("requires its client token")
    expect(without.sent[0]).toBeUndefined()
    const withToken = await run("#token=s3cret")
    expect(withToken.error).toBe("")
    expect(withToken.sent.every((a) => a === "Bearer s3cret")).toBe(true)
  })
})
