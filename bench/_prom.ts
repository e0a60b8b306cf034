/**
 * A per-stage breakdown from counters: scrape a node's Prometheus text before and after a load phase,
 * diff every series, and divide by the operations of the phase. Generic on purpose: any counter or
 * histogram a node exposes (a stage timing added later included) shows up without changes here.
 *
 * - a counter (`# TYPE … counter`, or an untyped name ending in `_total`): its delta per operation;
 * - a histogram or summary (`…_sum` and `…_count` of a family so typed): the mean of the observations
 *   made during the phase (delta sum / delta count, shown in µs when the name ends in `_seconds`) and
 *   how many were made per operation (delta count / operations); buckets and quantiles are left out;
 * - gauges are left out (they are levels, not work).
 * (Files starting with "_" are not benchmarks.)
 */
import * as http from "node:http"

/** One scrape: every sample by series (name and labels, without `dropLabel`), and the family types. */
export interface Scrape {
  readonly samples: ReadonlyMap<string, number>
  readonly types: ReadonlyMap<string, string>
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

/** Parses Prometheus text (0.0.4); `dropLabel` (the node's own id label) is removed from every series. */
export const parse = (text: string, dropLabel = "node"): Scrape => {
  const samples = new Map<string, number>()
  const types = new Map<string, string>()
  for (const line of text.split("\n")) {
    if (line.startsWith("# TYPE ")) {
      const [name, type] = line.slice(7).trim().split(/\s+/)
      if (name !== undefined && type !== undefined) types.set(name, type)
      continue
    }
    if (line.startsWith("#") || line.trim() === "") continue
    const m = SAMPLE.exec(line)
    if (m === null) continue
    const labels: Array<string> = []
    for (const l of (m[2] ?? "").matchAll(LABEL)) if (l[1] !== dropLabel) labels.push(`${l[1]}=${l[2]}`)
    const value = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3])
    samples.set(labels.length === 0 ? m[1]! : `${m[1]}{${labels.join(",")}}`, value)
  }
  return { samples, types }
}

/** GET `url` (a node's /metrics), parsed; undefined if the node does not answer within `ms`. */
export const scrape = (url: string, ms = 2000): Promise<Scrape | undefined> =>
  new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: ms }, (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (d: string) => (body += d))
      res.on("end", () => resolve(res.statusCode === 200 ? parse(body) : undefined))
      res.on("error", () => resolve(undefined))
    })
    req.on("timeout", () => req.destroy(new Error("timeout")))
    req.on("error", () => resolve(undefined))
  })

const splitSeries = (series: string) => {
  const brace = series.indexOf("{")
  return brace < 0 ? { name: series, labels: "" } : { name: series.slice(0, brace), labels: series.slice(brace) }
}

/** What one series did in a phase, per operation. */
export type Change =
  | { readonly kind: "counter"; readonly perOp: number }
  | { readonly kind: "histogram"; readonly perOp: number; readonly mean: number; readonly seconds: boolean }

/** Every counter and histogram series that moved between `before` and `after`, per one of `ops` operations. */
export const diff = (before: Scrape, after: Scrape, ops: number): Map<string, Change> => {
  const out = new Map<string, Change>()
  const typeOf = (name: string) => after.types.get(name) ?? before.types.get(name)
  const delta = (series: string) => (after.samples.get(series) ?? 0) - (before.samples.get(series) ?? 0)
  for (const series of after.samples.keys()) {
    const { name, labels } = splitSeries(series)
    const type = typeOf(name)
    if (type === "counter" || (type === undefined && name.endsWith("_total"))) {
      const d = delta(series)
      if (d !== 0) out.set(series, { kind: "counter", perOp: d / ops })
      continue
    }
    if (!name.endsWith("_count")) continue
    const base = name.slice(0, -"_count".length)
    const baseType = typeOf(base)
    if (baseType !== "histogram" && baseType !== "summary") continue
    const count = delta(series)
    if (count === 0) continue
    const sum = delta(`${base}_sum${labels}`)
    out.set(`${base}${labels}`, { kind: "histogram", perOp: count / ops, mean: sum / count, seconds: base.endsWith("_seconds") })
  }
  return out
}

/** A number in about three significant digits, compactly. */
export const compact = (x: number) => {
  const a = Math.abs(x)
  if (a >= 100) return x.toFixed(0)
  if (a >= 10) return x.toFixed(1)
  if (a >= 0.01) return x.toFixed(2)
  return x === 0 ? "0" : x.toPrecision(2)
}

export const formatChange = (c: Change | undefined) =>
  c === undefined
    ? "-"
    : c.kind === "counter"
    ? compact(c.perOp)
    : `${c.seconds ? `${compact(c.mean * 1e6)}µs` : compact(c.mean)}×${compact(c.perOp)}`

/**
 * The breakdown of one phase as lines: one per series that moved on any node, a column per node;
 * `prefix` (a common name prefix such as "concord_") is left out of the names.
 */
export const table = (
  title: string,
  columns: ReadonlyArray<{ readonly header: string; readonly changes: ReadonlyMap<string, Change> | undefined }>,
  prefix = ""
): Array<string> => {
  const series = [...new Set(columns.flatMap((c) => [...(c.changes?.keys() ?? [])]))].sort()
  const names = series.map((s) => (s.startsWith(prefix) ? s.slice(prefix.length) : s))
  const w = Math.max(title.length, ...names.map((n) => n.length))
  const cells = columns.map((c) => series.map((s) => (c.changes === undefined ? "n/a" : formatChange(c.changes.get(s)))))
  const cw = columns.map((c, i) => Math.max(c.header.length, ...cells[i]!.map((x) => x.length)))
  const lines = [`${title.padEnd(w)}  ${columns.map((c, i) => c.header.padStart(cw[i]!)).join("  ")}`]
  series.forEach((_, r) => lines.push(`${names[r]!.padEnd(w)}  ${cells.map((col, i) => col[r]!.padStart(cw[i]!)).join("  ")}`))
  if (series.length === 0) lines.push("  (no counter moved)")
  return lines
}
