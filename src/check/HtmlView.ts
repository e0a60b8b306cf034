/**
 * `HtmlView`: one self-contained HTML page that shows a checked history.
 *
 * Everything is inline (CSS, a few lines of script, the data): the page makes no network request, so
 * it can be attached to a CI run or opened from a temp directory. The layout is computed here and
 * emitted as positioned elements, so the page reads the same without script and a test can inspect
 * its structure without a browser; the script only adds the hover card and scrolls each timeline to
 * its failure point.
 *
 * One section per partition (illegal partitions first, open; the others folded): one lane per client,
 * each operation a box from its call to its return. The time axis is the order of distinct
 * timestamps, not their magnitude, so that short overlaps stay visible next to long waits. Boxes in
 * the longest linearizable prefix are green, with their position in the order and a blue linearization
 * path through them; the operations that could come next but are illegal are red, and a red line marks
 * the time by which the history has become illegal. Hovering a box shows its description, times and
 * the model state before and after it.
 *
 * Very long partitions are drawn as a window of `maxOpsPerPartition` operations around the failure.
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type { PlatformError } from "@effect/platform/Error"
import { Effect } from "effect"
import { type History, isPending, type Operation } from "./History.js"
import { type CheckResult, explain, type PartitionResult } from "./Linearizability.js"
import { describeOperation, describeState, type Model } from "./Model.js"

export interface ViewOptions {
  /** Page title; default "Linearizability check (model)". */
  readonly title?: string
  /** Most operations drawn per partition (a window around the failure); default 1500. */
  readonly maxOpsPerPartition?: number
  /** Most partitions drawn (illegal, then unknown, then linearizable ones); default 30. */
  readonly maxPartitions?: number
}

/** The colours of the page; the screenshot check looks for them. */
export const colors = {
  laneEven: "#e3ebf6",
  laneOdd: "#f4f7fb",
  linearized: "#8fd49b",
  linearizedBorder: "#2e7d32",
  illegal: "#ff8a80",
  illegalBorder: "#b71c1c",
  unreached: "#dcdcdc",
  unreachedBorder: "#9e9e9e",
  failureLine: "#d50000",
  path: "#1565c0"
} as const

const COL_W = 58
const LANE_H = 34
const BOX_H = 24
const LABEL_W = 96
const AXIS_H = 22

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => entities[c]!)

const entities: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }

const clip = (s: string, max: number): string =>
  s.length <= max
    ? s
    : `${s.slice(0, Math.floor(max / 3))}…(${s.length - max} more)…${s.slice(-Math.floor((2 * max) / 3))}`

const formatTime = (t: number | null | undefined): string => (t === undefined || t === null ? "never" : String(t))

const statusText = { Ok: "linearizable", Illegal: "not linearizable", Unknown: "undecided" } as const

interface Box {
  readonly index: number
  readonly lane: number
  readonly row: number
  readonly callCol: number
  readonly returnCol: number
  readonly pending: boolean
  readonly kind: "lin" | "bad" | "rest"
  readonly blocking: boolean
  readonly order: number | undefined
}

/** Renders the page. */
export const render = <S, I, O>(
  model: Model<S, I, O>,
  history: History<I, O>,
  result: CheckResult<S>,
  options: ViewOptions = {}
): string => {
  const title = options.title ?? `Linearizability check (${model.name})`
  const maxOps = Math.max(1, options.maxOpsPerPartition ?? 1500)
  const maxPartitions = Math.max(1, options.maxPartitions ?? 30)
  const rank = { Illegal: 0, Unknown: 1, Ok: 2 } as const
  const ordered = result.partitions
    .map((p, i) => ({ p, i }))
    .sort((a, b) => rank[a.p.status] - rank[b.p.status] || a.i - b.i)
  const drawn = ordered.slice(0, maxPartitions)
  const [summary, ...details] = explain(model, history, result).split("\n")
  const verdict = result._tag === "Ok" ? "Linearizable" : result._tag === "Illegal" ? "Not linearizable" : "Unknown"

  const rows = ordered
    .map(({ p, i }, k) => {
      const name = escapeHtml(clip(p.label === "" ? "(whole history)" : JSON.stringify(p.label), 80))
      const link = k < maxPartitions ? `<a href="#p${i}">${name}</a>` : name
      return `<tr class="${p.status.toLowerCase()}"><td>${link}</td><td>${p.ops.length}</td>` +
        `<td>${p.longest.length}</td><td class="st">${statusText[p.status]}</td></tr>`
    })
    .join("")

  const body = [
    `<header><h1>${escapeHtml(title)}</h1>`,
    `<div class="verdict ${result._tag.toLowerCase()}">${verdict}</div>`,
    `<p class="summary">${escapeHtml(summary ?? "")}</p>`,
    details.length > 0 ? `<pre class="explain">${escapeHtml(details.join("\n"))}</pre>` : "",
    `</header>`,
    legend(),
    `<table class="partitions"><thead><tr>` +
    `<th>partition</th><th>operations</th><th>linearized</th><th>status</th></tr></thead>`,
    `<tbody>${rows}</tbody></table>`,
    ordered.length > drawn.length
      ? `<p class="note">${ordered.length - drawn.length} more partitions are listed above but not drawn.</p>`
      : "",
    // Failed and undecided partitions are open; when everything is linearizable, the first one is.
    ...drawn.map(({ i, p }, k) =>
      section(model, history, p, i, maxOps, p.status !== "Ok" || (k === 0 && result._tag === "Ok"))
    )
  ].join("\n")

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${escapeHtml(title)}</title>
<style>${css}</style></head>
<body>
${body}
<div id="card" class="card" hidden></div>
<script>${script}</script>
</body></html>
`
}

/** Renders the page and writes it to `path`. */
export const writeFile = <S, I, O>(
  path: string,
  model: Model<S, I, O>,
  history: History<I, O>,
  result: CheckResult<S>,
  options: ViewOptions = {}
): Effect.Effect<void, PlatformError, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.writeFileString(path, render(model, history, result, options)))

const legend = (): string => {
  const item = (cls: string, text: string) => `<span class="item"><span class="swatch ${cls}"></span>${text}</span>`
  return `<section class="legend">` +
    item("lin", "in the longest linearizable prefix (number = position)") +
    item("bad", "could take effect next, but illegal there (or a dead end)") +
    item("rest", "not linearized") +
    item("pending", "never returned") +
    `<span class="item"><span class="swatch line"></span>illegal by this time</span>` +
    `<span class="item"><span class="swatch path"></span>linearization order</span>` +
    `<span class="item hint">hover a box for details</span></section>`
}

// The operations drawn for a partition: all of them, or a window in call order around where the search
// stopped (the failure, or the end of the prefix), mostly before it.
const windowOf = <I, O>(history: History<I, O>, p: PartitionResult<unknown>, maxOps: number): ReadonlyArray<number> => {
  const byCall = [...p.ops].sort((a, b) => history[a]!.call - history[b]!.call || a - b)
  if (byCall.length <= maxOps) return byCall
  const focus = p.failure?.blocking ?? p.longest[p.longest.length - 1]
  const at = focus === undefined ? 0 : Math.max(0, byCall.indexOf(focus))
  const start = Math.max(0, Math.min(byCall.length - maxOps, at - Math.floor(maxOps * 0.8)))
  return byCall.slice(start, start + maxOps)
}

const section = <S, I, O>(
  model: Model<S, I, O>,
  history: History<I, O>,
  p: PartitionResult<S>,
  id: number,
  maxOps: number,
  expanded: boolean
): string => {
  const shown = windowOf(history, p, maxOps)
  const name = p.label === "" ? "whole history" : `partition ${JSON.stringify(p.label)}`

  // Columns: the distinct times of the drawn operations; a never-returned operation ends past the last.
  const times = new Set<number>()
  for (const i of shown) {
    const op = history[i]!
    times.add(op.call)
    if (!isPending(op)) times.add(op.return!)
  }
  const sortedTimes = Array.from(times).sort((a, b) => a - b)
  const colOf = new Map(sortedTimes.map((t, c) => [t, c]))
  const anyPending = shown.some((i) => isPending(history[i]!))
  const cols = sortedTimes.length + (anyPending ? 1 : 0)

  // The linearization order and the states along it, replayed through the model.
  const order = new Map<number, number>()
  p.longest.forEach((i, k) => order.set(i, k))
  const before = new Map<number, string>()
  const after = new Map<number, string>()
  const shownSet = new Set(shown)
  let state = model.initial
  for (const i of p.longest) {
    const op = history[i]!
    const next = model.step(state, op.input, isPending(op) ? undefined : op.output)[1]
    if (shownSet.has(i)) {
      before.set(i, describeState(model, state))
      after.set(i, describeState(model, next))
    }
    state = next
  }
  const bad = new Set(p.failure?.attempts ?? [])
  const deadEnds = new Set(p.failure?.deadEnds ?? [])
  const failState = p.failure !== undefined ? describeState(model, p.failure.state) : undefined

  // Lanes: one per client; a client with overlapping operations (not sequential) gets extra rows.
  const clients = Array.from(new Set(shown.map((i) => history[i]!.clientId))).sort((a, b) => a - b)
  const laneOf = new Map(clients.map((c, k) => [c, k]))
  const rowEnds: Array<Array<number>> = clients.map(() => [])
  const boxes: Array<Box> = shown.map((i) => {
    const op = history[i]!
    const lane = laneOf.get(op.clientId)!
    const callCol = colOf.get(op.call)!
    const pending = isPending(op)
    const returnCol = pending ? cols - 1 : colOf.get(op.return!)!
    const ends = rowEnds[lane]!
    let row = ends.findIndex((end) => end < callCol)
    if (row === -1) row = ends.push(returnCol) - 1
    else ends[row] = returnCol
    const kind = order.has(i) ? "lin" : bad.has(i) || deadEnds.has(i) ? "bad" : "rest"
    const blocking = p.failure?.blocking === i
    return { index: i, lane, row, callCol, returnCol, pending, kind, blocking, order: order.get(i) }
  })
  const laneTop: Array<number> = []
  let y = 0
  for (let k = 0; k < clients.length; k++) {
    laneTop.push(y)
    y += Math.max(1, rowEnds[k]!.length) * LANE_H
  }
  const height = y + AXIS_H
  const width = LABEL_W + cols * COL_W + 24
  const xOf = (col: number) => LABEL_W + col * COL_W

  const lanes = clients
    .map((c, k) => {
      const h = Math.max(1, rowEnds[k]!.length) * LANE_H
      const style = `top:${laneTop[k]}px;height:${h}px;width:${width}px`
      return `<div class="lane ${k % 2 === 0 ? "even" : "odd"}" style="${style}">` +
        `<span class="lane-label">client ${c}</span></div>`
    })
    .join("")

  const opBoxes = boxes
    .map((b) => {
      const op: Operation<I, O> = history[b.index]!
      const text = describeOperation(model, op)
      const left = xOf(b.callCol) + 3
      const w = (b.returnCol - b.callCol + 1) * COL_W - 6
      const top = laneTop[b.lane]! + b.row * LANE_H + (LANE_H - BOX_H) / 2
      const tip = [
        `${text}`,
        `client ${op.clientId} · history #${b.index}`,
        `call ${formatTime(op.call)} · return ${formatTime(op.return)}`,
        b.kind === "lin"
          ? `linearized #${b.order! + 1} of ${p.longest.length}\n` +
            `state before: ${before.get(b.index)}\nstate after: ${after.get(b.index)}`
          : b.kind === "bad" && deadEnds.has(b.index)
          ? `legal as the next operation, but what remains cannot follow it\nstate after the prefix: ${failState}`
          : b.kind === "bad"
          ? `illegal as the next operation\nstate after the prefix: ${failState}`
          : p.status === "Ok"
          ? ""
          : "not in the longest linearizable prefix",
        b.blocking ? "the first unlinearized operation to return: the history is illegal by then" : ""
      ].filter((s) => s !== "").map((s) => clip(s, 600)).join("\n")
      const cls = `op ${b.kind}${b.pending ? " pending" : ""}${b.blocking ? " blocking" : ""}`
      const badge = b.order !== undefined ? `<b>${b.order + 1}</b>` : ""
      return `<div class="${cls}" style="left:${left}px;top:${top}px;width:${w}px" data-tip="${escapeHtml(tip)}">` +
        `${badge}<span>${escapeHtml(clip(text, 200))}</span></div>`
    })
    .join("")

  // Linearization points: one point inside each linearized box, non-decreasing in the order.
  const points: Array<[number, number]> = []
  let lp = -1
  for (const b of [...boxes].filter((b) => b.order !== undefined).sort((a, c) => a.order! - c.order!)) {
    lp = Math.min(b.returnCol + 0.85, Math.max(lp + 0.12, b.callCol + 0.15))
    points.push([xOf(lp), laneTop[b.lane]! + b.row * LANE_H + LANE_H / 2])
  }
  // The path runs under the boxes (visible between them), the points sit on top.
  const svg = (cls: string, content: string) =>
    `<svg class="${cls}" width="${width}" height="${height}" aria-hidden="true">${content}</svg>`
  const path = points.length === 0 ? "" :
    svg("lp", `<polyline points="${points.map(([px, py]) => `${px.toFixed(1)},${py}`).join(" ")}"/>`)
  const dots = points.length === 0 ? "" :
    svg("lp dots", points.map(([px, py]) => `<circle cx="${px.toFixed(1)}" cy="${py}" r="3"/>`).join(""))

  let failLine = ""
  if (p.failure !== undefined) {
    const blocked = boxes.find((b) => b.blocking)
    if (blocked !== undefined) {
      const x = xOf(blocked.returnCol + 1) - 2
      failLine = `<div class="fail-line" style="left:${x}px;height:${height - AXIS_H}px"></div>` +
        `<div class="fail-label" style="left:${x - 3}px">` +
        `illegal by t=${escapeHtml(formatTime(history[blocked.index]!.return))}</div>`
    }
  }

  // Axis: a time label every few columns, so labels do not collide.
  const every = Math.max(1, Math.ceil(110 / COL_W))
  const ticks = sortedTimes
    .map((t, c) => c % every === 0 ? `<span class="tick" style="left:${xOf(c)}px">${escapeHtml(String(t))}</span>` : "")
    .join("") + (anyPending ? `<span class="tick" style="left:${xOf(cols - 1)}px">∞</span>` : "")

  const windowNote = shown.length < p.ops.length
    ? `<p class="note">Showing ${shown.length} of ${p.ops.length} operations, around where the search stopped.</p>`
    : ""
  const prefix = p.longest.length === 0 ? "" : `<details class="prefix"><summary>${
    p.status === "Ok" ? "Linearization" : "Longest linearizable prefix"
  } (${p.longest.length} operations)</summary><ol>${
    listItems(p.longest.map((i) => `client ${history[i]!.clientId}: ${describeOperation(model, history[i]!)}`))
  }</ol></details>`
  const open = expanded ? " open" : ""

  return `<details class="partition ${p.status.toLowerCase()}" id="p${id}" data-status="${p.status}"${open}>` +
    `<summary><h2>${escapeHtml(clip(name, 120))}: ${statusText[p.status]}</h2>` +
    `<span class="counts">${p.longest.length} of ${p.ops.length} operations linearized · ` +
    `${clients.length} clients · ${p.steps} search steps</span></summary>` +
    windowNote +
    `<div class="scroll"><div class="timeline" style="width:${width}px;height:${height}px">` +
    lanes + path + opBoxes + dots + failLine +
    `<div class="axis" style="top:${height - AXIS_H}px;width:${width}px">${ticks}</div>` +
    `</div></div>${prefix}</details>`
}

const listItems = (items: ReadonlyArray<string>): string => {
  const item = (s: string) => `<li>${escapeHtml(clip(s, 300))}</li>`
  if (items.length <= 300) return items.map(item).join("")
  return items.slice(0, 200).map(item).join("") + `<li class="skip">… ${items.length - 300} more …</li>` +
    items.slice(-100).map(item).join("")
}

const mono = "ui-monospace,Menlo,Consolas,monospace"

const css = `
*{box-sizing:border-box}
body{margin:0;padding:16px 20px;color:#1d2330;background:#fff;
  font:13px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header h1{font-size:18px;margin:0 0 6px}
.verdict{display:inline-block;padding:3px 10px;border-radius:4px;font-weight:600;color:#fff}
.verdict.ok{background:#2e7d32}.verdict.illegal{background:${colors.failureLine}}.verdict.unknown{background:#b26a00}
.summary{margin:8px 0 4px;font-weight:500}
.explain{margin:0 0 8px;padding:8px;background:#fbf3f2;border-left:3px solid ${colors.failureLine};
  white-space:pre-wrap;font:12px/1.4 ${mono}}
.legend{display:flex;flex-wrap:wrap;gap:14px;margin:10px 0;padding:6px 8px;
  background:#fafafa;border:1px solid #e5e5e5;border-radius:4px}
.legend .item{display:inline-flex;align-items:center;gap:6px}
.legend .hint{color:#666}
.swatch{display:inline-block;width:22px;height:14px;border-radius:3px;border:1px solid}
.swatch.lin{background:${colors.linearized};border-color:${colors.linearizedBorder}}
.swatch.bad{background:${colors.illegal};border-color:${colors.illegalBorder}}
.swatch.rest{background:${colors.unreached};border-color:${colors.unreachedBorder}}
.swatch.pending{background:#fff;border:1px dashed #555}
.swatch.line{width:4px;background:${colors.failureLine};border-color:${colors.failureLine}}
.swatch.path{height:3px;background:${colors.path};border-color:${colors.path}}
table.partitions{border-collapse:collapse;margin:8px 0 12px;font-size:12px}
table.partitions th,table.partitions td{padding:2px 10px;border-bottom:1px solid #eee;text-align:left}
table.partitions tr.illegal .st{color:${colors.failureLine};font-weight:600}
table.partitions tr.unknown .st{color:#b26a00;font-weight:600}
table.partitions tr.ok .st{color:#2e7d32}
.note{color:#555;font-style:italic;margin:4px 0}
details.partition{margin:14px 0;border:1px solid #d8dee8;border-radius:6px;padding:6px 8px}
details.partition.illegal{border-color:${colors.illegalBorder}}
details.partition>summary{cursor:pointer;list-style:none}
details.partition>summary h2{display:inline;font-size:15px;margin:0 10px 0 0}
.counts{color:#555}
.scroll{overflow-x:auto;margin-top:8px;border:1px solid #e5e9f0}
.timeline{position:relative}
.lane{position:absolute;left:0}
.lane.even{background:${colors.laneEven}}.lane.odd{background:${colors.laneOdd}}
.lane-label{position:sticky;left:0;z-index:6;display:inline-block;width:${LABEL_W - 8}px;padding:0 6px;
  line-height:${LANE_H}px;font-weight:600;color:#33415c;background:inherit}
.op{position:absolute;z-index:2;height:${BOX_H}px;border:1px solid;border-radius:4px;padding:0 4px 0 8px;
  overflow:hidden;white-space:nowrap;text-overflow:ellipsis;font:11px/${BOX_H - 2}px ${mono};cursor:default}
.op.lin{background:${colors.linearized};border-color:${colors.linearizedBorder}}
.op.bad{background:${colors.illegal};border-color:${colors.illegalBorder}}
.op.rest{background:${colors.unreached};border-color:${colors.unreachedBorder};color:#444}
.op.pending{border-style:dashed;border-right-width:0;border-radius:4px 0 0 4px}
.op.blocking{border-width:3px;line-height:${BOX_H - 6}px}
.op b{display:inline-block;margin-right:4px;padding:0 3px;border-radius:3px;
  background:rgba(255,255,255,.75);color:#1b5e20;font-weight:700}
.op:hover{outline:2px solid #1d2330;z-index:5}
svg.lp{position:absolute;left:0;top:0;pointer-events:none;z-index:1}
svg.lp.dots{z-index:3}
svg.lp polyline{fill:none;stroke:${colors.path};stroke-width:1.5;stroke-opacity:.8}
svg.lp circle{fill:${colors.path}}
.fail-line{position:absolute;top:0;width:4px;background:${colors.failureLine};z-index:4}
.fail-label{position:absolute;top:2px;z-index:4;transform:translateX(-100%);padding:0 4px;border-radius:3px;
  background:${colors.failureLine};color:#fff;font-weight:600;font-size:11px;white-space:nowrap}
.axis{position:absolute;left:0;height:${AXIS_H}px;border-top:1px solid #c5cedc;background:#fff}
.tick{position:absolute;top:3px;font-size:10px;color:#556;white-space:nowrap}
.prefix{margin-top:6px}
.prefix ol{margin:4px 0;max-height:240px;overflow:auto;font:11px/1.5 ${mono}}
.card{position:fixed;z-index:10;max-width:560px;padding:8px 10px;border-radius:6px;pointer-events:none;
  background:#1d2330;color:#f4f6fa;white-space:pre-wrap;font:12px/1.45 ${mono};box-shadow:0 4px 14px rgba(0,0,0,.25)}
`

// Hover card, and each timeline scrolled so its failure line is in view; `data-view` tells a headless
// browser check that the script ran.
const script = `
(function(){
  var card=document.getElementById("card");
  document.addEventListener("mouseover",function(e){
    var t=e.target.closest&&e.target.closest("[data-tip]");
    if(!t){card.hidden=true;return}
    card.textContent=t.getAttribute("data-tip");card.hidden=false;
  });
  document.addEventListener("mousemove",function(e){
    if(card.hidden)return;
    var x=e.clientX+14,y=e.clientY+14,w=card.offsetWidth,h=card.offsetHeight;
    if(x+w>innerWidth-8)x=Math.max(8,e.clientX-w-14);
    if(y+h>innerHeight-8)y=Math.max(8,e.clientY-h-14);
    card.style.left=x+"px";card.style.top=y+"px";
  });
  document.querySelectorAll(".scroll").forEach(function(s){
    var line=s.querySelector(".fail-line");
    if(line&&line.offsetLeft>s.clientWidth-40)s.scrollLeft=line.offsetLeft-s.clientWidth*0.7;
  });
  document.documentElement.setAttribute("data-view","ready");
})();
`
