/**
 * The live status page every node serves at `GET /`: one self-contained HTML page (inline CSS and
 * script, no external fetch) showing the cluster as this node sees it.
 *
 * The page polls, once a second, only the node that served it: `/v1/cluster` (each member's status,
 * gathered by this node over the cluster's own transport, so the page needs neither the other nodes'
 * HTTP ports nor CORS, and a member this node cannot reach shows as unreachable), `/metrics` (this
 * node's request and apply counters, for the chart) and, on a shard controller, `/v1/config` and the
 * configs before it.
 *
 * The rendering is pure functions from state to HTML strings, exported here and tested without a
 * browser; the page's script is the same functions' source (`Function.prototype.toString`), so what
 * the tests check is what the browser runs. They must therefore be self-contained: no imports, no
 * module constants, only each other.
 * @since 0.1.0
 */

/** A member's status as `/v1/cluster` gives it. */
export interface MemberStatus {
  readonly id: string
  readonly role: string
  readonly term: number
  readonly leader: string | null
  readonly commit: number
  readonly applied: number
  readonly lastIndex: number
  readonly snapshotIndex: number
  readonly logBytes: number
  readonly snapshotBytes: number
  readonly diskBytes: number
}

export interface Member {
  readonly id: string
  readonly address: string
  readonly reachable: boolean
  readonly error?: string
  readonly status?: MemberStatus
}

/** `GET /v1/cluster`. */
export interface ClusterView {
  readonly self: string
  readonly kind: "kv" | "ctrl" | "shardkv" | null
  readonly members: ReadonlyArray<Member>
}

/** What the chart needs from one scrape of `/metrics`. */
export interface Sample {
  readonly atMs: number
  /** Requests this node served (all services, all outcomes). */
  readonly requests: number
  readonly latencySum: number
  readonly latencyCount: number
  /** Entries this node applied. */
  readonly applied: number
}

export interface Point {
  readonly atMs: number
  readonly requestsPerSec: number
  readonly appliedPerSec: number
  /** Mean latency of the requests in the interval; null if there were none. */
  readonly latencyMs: number | null
}

/** A shard controller's config as its HTTP API gives it. */
export interface ConfigJson {
  readonly num: number
  readonly shards: ReadonlyArray<number>
  readonly groups: Readonly<Record<string, ReadonlyArray<string>>>
}

/** Escapes text for HTML. */
export function esc(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" })[c]!)
}

/** 1536 → "1.5 KiB". */
export function bytes(n: number): string {
  if (n < 1024) return n + " B"
  const units = ["KiB", "MiB", "GiB", "TiB"]
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return v.toFixed(v < 10 ? 1 : 0) + " " + units[i]
}

/** The leader most reachable members agree on (ties: the one that says it leads). */
export function leaderOf(view: ClusterView): string | null {
  const votes = new Map<string, number>()
  for (const m of view.members) {
    const l = m.status?.leader
    if (m.reachable && l !== null && l !== undefined) votes.set(l, (votes.get(l) ?? 0) + 1)
  }
  let best: string | null = null
  let most = 0
  for (const [id, n] of votes) {
    const leads = view.members.some((m) => m.id === id && m.status?.role === "Leader")
    if (n > most || (n === most && leads)) {
      best = id
      most = n
    }
  }
  return best
}

/** One line: the leader, its term, how many members answer. */
export function renderSummary(view: ClusterView): string {
  const leader = leaderOf(view)
  const up = view.members.filter((m) => m.reachable).length
  const term = Math.max(0, ...view.members.map((m) => m.status?.term ?? 0))
  const what = view.kind === "ctrl" ? "shard controller" : view.kind === "shardkv" ? "shard group" : "key/value cluster"
  return "<span class=\"what\">" + esc(what) + "</span> seen from <b>" + esc(view.self) + "</b> · " +
    (leader === null ? "<span class=\"noleader\">no leader</span>" : "leader <b class=\"leader-name\">" + esc(leader) + "</b>") +
    " · term " + term + " · <span class=\"up\">" + up + "/" + view.members.length + "</span> members reachable"
}

/** The members' table; the leader's row is highlighted, unreachable members greyed. */
export function renderMembers(view: ClusterView): string {
  const leader = leaderOf(view)
  const head = ["member", "address", "role", "term", "leader", "commit", "applied", "last index", "snapshot", "log", "snapshot size", "disk", "reachable"]
  const rows = view.members.map((m) => {
    const s = m.status
    const cls = !m.reachable ? "down" : m.id === leader ? "leader" : ""
    const cells = s === undefined
      ? [esc(m.id), esc(m.address), "<span class=\"err\">" + esc(m.error ?? "unreachable") + "</span>", "no"]
      : [
        esc(m.id) + (m.id === view.self ? " <small>(this node)</small>" : ""),
        esc(m.address),
        "<span class=\"role\">" + esc(s.role) + "</span>",
        String(s.term),
        esc(s.leader ?? "—"),
        String(s.commit),
        String(s.applied),
        String(s.lastIndex),
        String(s.snapshotIndex),
        bytes(s.logBytes),
        bytes(s.snapshotBytes),
        bytes(s.diskBytes),
        m.reachable ? "yes" : "no"
      ]
    return "<tr class=\"member " + cls + "\" data-id=\"" + esc(m.id) + "\" data-role=\"" + esc(s?.role ?? "unreachable") + "\">" +
      cells.map((c, i) => (s === undefined && i === 2 ? "<td colspan=\"" + (head.length - 3) + "\">" : "<td>") + c + "</td>").join("") +
      "</tr>"
  })
  return "<table class=\"members\"><thead><tr>" + head.map((h) => "<th>" + h + "</th>").join("") + "</tr></thead><tbody>" +
    rows.join("") + "</tbody></table>"
}

/** From `/metrics` text: this node's request count, latency sum and count, and applied entries. */
export function parseMetrics(text: string, atMs: number): Sample {
  let requests = 0
  let latencySum = 0
  let latencyCount = 0
  let applied = 0
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line === "") continue
    const space = line.lastIndexOf(" ")
    const value = Number(line.slice(space + 1))
    const name = line.slice(0, Math.max(0, line.search(/[{ ]/)))
    if (name === "concord_requests_total") requests += value
    else if (name === "concord_request_duration_seconds_sum") latencySum += value
    else if (name === "concord_request_duration_seconds_count") latencyCount += value
    else if (name === "concord_raft_applied_entries_total") applied += value
  }
  return { atMs, requests, latencySum, latencyCount, applied }
}

/** Rates between consecutive samples (a counter that went down, after a restart, starts over). */
export function rates(samples: ReadonlyArray<Sample>): Array<Point> {
  const out: Array<Point> = []
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!
    const b = samples[i]!
    const dt = (b.atMs - a.atMs) / 1000
    if (dt <= 0) continue
    const dn = b.latencyCount - a.latencyCount
    out.push({
      atMs: b.atMs,
      requestsPerSec: Math.max(0, b.requests - a.requests) / dt,
      appliedPerSec: Math.max(0, b.applied - a.applied) / dt,
      latencyMs: dn > 0 ? ((b.latencySum - a.latencySum) / dn) * 1000 : null
    })
  }
  return out
}

/** An SVG chart of requests/s and applied entries/s (left axis) and mean latency (right axis). */
export function renderChart(points: ReadonlyArray<Point>, width = 640, height = 160): string {
  const pad = 30
  const w = width - 2 * pad
  const h = height - 2 * pad
  const maxRate = Math.max(1, ...points.map((p) => Math.max(p.requestsPerSec, p.appliedPerSec)))
  const latencies = points.map((p) => p.latencyMs).filter((l): l is number => l !== null)
  const maxLatency = Math.max(1, ...latencies)
  const x = (i: number) => pad + (points.length <= 1 ? w : (i / (points.length - 1)) * w)
  const line = (values: ReadonlyArray<number | null>, max: number, cls: string) => {
    const pts = values.flatMap((v, i) => v === null ? [] : [x(i).toFixed(1) + "," + (pad + h - (v / max) * h).toFixed(1)])
    return pts.length === 0 ? "" : "<polyline class=\"" + cls + "\" fill=\"none\" points=\"" + pts.join(" ") + "\"/>"
  }
  const last = points[points.length - 1]
  return "<svg class=\"chart\" width=\"" + width + "\" height=\"" + height + "\" viewBox=\"0 0 " +
    width + " " + height + "\">" +
    "<rect x=\"" + pad + "\" y=\"" + pad + "\" width=\"" + w + "\" height=\"" + h + "\" class=\"frame\"/>" +
    line(points.map((p) => p.requestsPerSec), maxRate, "requests") +
    line(points.map((p) => p.appliedPerSec), maxRate, "applied") +
    line(points.map((p) => p.latencyMs), maxLatency, "latency") +
    "<text x=\"" + pad + "\" y=\"" + (pad - 8) + "\" class=\"axis\">" + maxRate.toFixed(0) + "/s</text>" +
    "<text x=\"" + (width - pad) + "\" y=\"" + (pad - 8) + "\" class=\"axis\" text-anchor=\"end\">" + maxLatency.toFixed(1) + " ms</text>" +
    "<text x=\"" + pad + "\" y=\"" + (height - 8) + "\" class=\"legend\">" +
    (last === undefined
      ? "collecting…"
      : "requests served here " + last.requestsPerSec.toFixed(0) + "/s · entries applied " + last.appliedPerSec.toFixed(0) +
        "/s · mean latency " + (last.latencyMs === null ? "—" : last.latencyMs.toFixed(2) + " ms")) +
    "</text></svg>"
}

/** A shard controller's current config as a shard → group grid, and the configs before it. */
export function renderConfig(latest: ConfigJson, history: ReadonlyArray<ConfigJson>): string {
  const gids = [...new Set(latest.shards)].sort((a, b) => a - b)
  const hue = (gid: number) => gid === 0 ? "#ddd" : "hsl(" + ((gid * 137) % 360) + ",60%,80%)"
  const grid = "<table class=\"grid\"><tr><th>shard</th>" + latest.shards.map((_, s) => "<th>" + s + "</th>").join("") +
    "</tr><tr><th>group</th>" +
    latest.shards.map((g, s) => "<td class=\"shard\" data-shard=\"" + s + "\" data-gid=\"" + g + "\" style=\"background:" + hue(g) + "\">" + g + "</td>")
      .join("") + "</tr></table>"
  const groups = "<ul class=\"groups\">" + gids.map((g) =>
    "<li><b>" + g + "</b>" + (g === 0 ? " (no group)" : ": " + esc((latest.groups[String(g)] ?? []).join(", "))) + " — " +
    latest.shards.filter((x) => x === g).length + " shards</li>"
  ).join("") + "</ul>"
  const past = "<ol class=\"history\">" + history.map((c) =>
    "<li data-num=\"" + c.num + "\">config " + c.num + ": " + Object.keys(c.groups).length + " groups · " +
    esc(c.shards.join(" ")) + "</li>"
  ).join("") + "</ol>"
  return "<h3>config " + latest.num + "</h3>" + grid + groups + "<h3>recent configs</h3>" + past
}

/** The little of the browser's DOM the page uses (the project compiles without the DOM library). */
declare const document: {
  getElementById(id: string): { innerHTML: string } | null
  readonly body: { setAttribute(name: string, value: string): void }
}
declare const location: { readonly hash: string }

/**
 * The page's loop, run in the browser: polls this node and renders. Only the functions above are in
 * scope (the page embeds them), plus `document`, `location`, `fetch`, `setTimeout` and `Date`.
 */
export function main(pollMs: number): void {
  const samples: Array<Sample> = []
  const events: Array<string> = []
  const configs = new Map<number, ConfigJson>()
  let lastLeader: string | null | undefined = undefined
  let updates = 0
  const set = (id: string, html: string) => {
    const el = document.getElementById(id)
    if (el !== null) el.innerHTML = html
  }
  // A node with --auth-token-file wants the token on /v1/: the page takes it from its address's
  // fragment (/#token=...), which the browser never sends to a server, so it is in no request line
  // or log; it goes only into the Authorization header of the page's own requests.
  const token = /(?:^#|&)token=([^&]*)/.exec(location.hash)?.[1]
  const headers: Record<string, string> = token === undefined ? {} : { authorization: "Bearer " + decodeURIComponent(token) }
  const get = async (path: string) => {
    const response = await fetch(path, { headers })
    if (response.status === 401) throw new Error("this node requires its client token: open this page as /#token=<token>")
    return response
  }
  const tick = async () => {
    try {
      const view = (await (await get("/v1/cluster")).json()) as ClusterView
      const leader = leaderOf(view)
      if (lastLeader !== undefined && leader !== lastLeader) {
        events.unshift(new Date().toLocaleTimeString() + ": leader " + (lastLeader ?? "none") + " → " + (leader ?? "none"))
      }
      lastLeader = leader
      set("summary", renderSummary(view))
      set("members", renderMembers(view))
      set("events", events.slice(0, 10).map((e) => "<li>" + esc(e) + "</li>").join(""))
      const text = await (await get("/metrics")).text()
      samples.push(parseMetrics(text, Date.now()))
      if (samples.length > 61) samples.shift()
      set("chart", renderChart(rates(samples)))
      if (view.kind === "ctrl") {
        const latest = (await (await get("/v1/config")).json()) as ConfigJson
        // Past configs never change: each is fetched once.
        const nums = [1, 2, 3, 4, 5, 6, 7, 8].map((k) => latest.num - k).filter((n) => n >= 0)
        for (const n of nums) {
          if (!configs.has(n)) configs.set(n, (await (await get("/v1/config/" + n)).json()) as ConfigJson)
        }
        set("config", renderConfig(latest, nums.map((n) => configs.get(n)!)))
      }
      set("error", "")
    } catch (e) {
      set("error", "this node did not answer: " + esc(e instanceof Error ? e.message : e))
    }
    updates++
    document.body.setAttribute("data-updates", String(updates))
    setTimeout(tick, pollMs)
  }
  void tick()
}

/** The functions the page's script is made of. */
const parts = [esc, bytes, leaderOf, renderSummary, renderMembers, parseMetrics, rates, renderChart, renderConfig, main]

/** The page's script: the functions above, and a call of `main`. */
export const script = (pollMs = 1000): string =>
  parts.map((f) => f.toString()).join("\n") + "\n" + main.name + "(" + JSON.stringify(pollMs) + ")\n"

const css = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; margin: 0 0 .4em; } h2 { font-size: 1.1em; margin: 1.2em 0 .4em; } h3 { font-size: 1em; }
table { border-collapse: collapse; } th, td { padding: .25em .6em; border-bottom: 1px solid #e4e4e4; text-align: right; }
th { background: #f4f6f8; font-weight: 600; } td, th { white-space: nowrap; }
td:nth-child(-n+3), th:nth-child(-n+3) { text-align: left; }
tr.leader { background: #fff3c4; font-weight: 600; } tr.down { color: #999; background: #f7f7f7; }
.noleader, .err, #error { color: #b71c1c; } .leader-name { color: #8a6d00; }
svg.chart .frame { fill: #fafbfc; stroke: #ddd; } svg.chart polyline { stroke-width: 2; }
svg.chart .requests { stroke: #1565c0; } svg.chart .applied { stroke: #2e7d32; } svg.chart .latency { stroke: #e65100; stroke-dasharray: 4 3; }
svg.chart text { font-size: 11px; fill: #555; }
table.grid td.shard, table.grid th { text-align: center; min-width: 2em; } ol.history { font-family: ui-monospace, monospace; font-size: 12px; }
`

/** The whole page, for node `self`. */
export const page = (self: string, pollMs = 1000): string => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Concord · ${esc(self)}</title>
<style>${css}</style></head>
<body data-updates="0">
<h1>Concord · ${esc(self)}</h1>
<div id="summary">loading…</div>
<div id="error"></div>
<h2>Members</h2>
<div id="members"></div>
<h2>Throughput and latency (this node)</h2>
<div id="chart"></div>
<p><small><span style="color:#1565c0">requests served/s</span> · <span style="color:#2e7d32">entries applied/s</span> ·
<span style="color:#e65100">mean request latency</span> — from this node's /metrics, sampled every ${pollMs / 1000} s</small></p>
<div id="config"></div>
<h2>Leader changes seen by this page</h2>
<ul id="events"></ul>
<script>
${script(pollMs)}</script>
</body></html>
`
