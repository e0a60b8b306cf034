/**
 * The Prometheus text exposition format (version 0.0.4), written by hand: no OpenTelemetry package is
 * installed, and the format is small. A `Family` is one metric name with its HELP, TYPE and samples;
 * `fromMetrics` turns a snapshot of Effect's `Metric` registry into families, and `render` writes
 * them out.
 * @since 0.1.0
 */
import type { MetricPair } from "effect"
import { MetricState, Option } from "effect"

export type Labels = Readonly<Record<string, string>>

export interface Histogram {
  /** Cumulative counts by upper bound, ascending, the last bound `Infinity`. */
  readonly buckets: ReadonlyArray<readonly [number, number]>
  readonly count: number
  readonly sum: number
}

export type Family =
  | {
    readonly name: string
    readonly help: string
    readonly type: "counter" | "gauge"
    readonly samples: ReadonlyArray<{ readonly labels: Labels; readonly value: number }>
  }
  | {
    readonly name: string
    readonly help: string
    readonly type: "histogram"
    readonly samples: ReadonlyArray<{ readonly labels: Labels; readonly value: Histogram }>
  }

/** The content type of `render`'s output. */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, "\\\"")
const escapeHelp = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

/** A metric or label name as Prometheus allows it (`[a-zA-Z_:][a-zA-Z0-9_:]*`, labels without `:`). */
export const sanitize = (name: string) => name.replace(/[^a-zA-Z0-9_:]/g, "_").replace(/^([0-9])/, "_$1")

const labelText = (labels: Labels, extra?: readonly [string, string]) => {
  const parts = Object.entries(labels).map(([k, v]) => `${sanitize(k).replace(/:/g, "_")}="${escapeLabel(v)}"`)
  if (extra !== undefined) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`)
  return parts.length === 0 ? "" : `{${parts.join(",")}}`
}

const num = (n: number) => Number.isNaN(n) ? "NaN" : n === Infinity ? "+Inf" : n === -Infinity ? "-Inf" : String(n)

/** The exposition text of `families`, in order; a family without samples is left out. */
export const render = (families: ReadonlyArray<Family>): string => {
  const lines: Array<string> = []
  for (const f of families) {
    if (f.samples.length === 0) continue
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`)
    if (f.type === "histogram") {
      for (const { labels, value } of f.samples) {
        for (const [le, count] of value.buckets) lines.push(`${f.name}_bucket${labelText(labels, ["le", num(le)])} ${count}`)
        lines.push(`${f.name}_sum${labelText(labels)} ${num(value.sum)}`, `${f.name}_count${labelText(labels)} ${value.count}`)
      }
    } else {
      for (const { labels, value } of f.samples) lines.push(`${f.name}${labelText(labels)} ${num(value)}`)
    }
  }
  return lines.join("\n") + "\n"
}

/**
 * The families of a snapshot of Effect metrics (`Metric.snapshot`) whose labels include every label of
 * `only` (a node's metrics among those of every node in the process); those labels are kept. Counters
 * become counters (a `_total` suffix added if missing), gauges gauges, histograms histograms; other
 * kinds (frequencies, summaries) are not exported.
 */
export const fromMetrics = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>, only: Labels = {}): Array<Family> => {
  const byName = new Map<string, { help: string; type: Family["type"]; samples: Array<{ labels: Labels; value: any }> }>()
  for (const pair of pairs) {
    const labels: Record<string, string> = {}
    for (const t of pair.metricKey.tags) labels[t.key] = t.value
    if (!Object.entries(only).every(([k, v]) => labels[k] === v)) continue
    const state = pair.metricState
    const help = Option.getOrElse(pair.metricKey.description, () => pair.metricKey.name)
    let type: Family["type"]
    let name = sanitize(pair.metricKey.name)
    let value: number | Histogram
    if (MetricState.isCounterState(state)) {
      type = "counter"
      if (!name.endsWith("_total")) name += "_total"
      value = Number(state.count)
    } else if (MetricState.isGaugeState(state)) {
      type = "gauge"
      value = Number(state.value)
    } else if (MetricState.isHistogramState(state)) {
      type = "histogram"
      value = { buckets: state.buckets, count: state.count, sum: state.sum }
    } else {
      continue
    }
    let family = byName.get(name)
    if (family === undefined) byName.set(name, family = { help, type, samples: [] })
    if (family.type === type) family.samples.push({ labels, value })
  }
  return [...byName].map(([name, f]) => ({ name, ...f }) as Family)
}
