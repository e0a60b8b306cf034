/**
 * A small, strict parser of the Prometheus text exposition format (0.0.4), for tests that scrape
 * `/metrics`: it throws on anything a Prometheus server would reject or that the format forbids
 * (a sample before its TYPE, a TYPE given twice, bad names or label syntax, a duplicate series,
 * histogram buckets out of order or decreasing, a `+Inf` bucket that is not `_count`).
 */

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Family {
  readonly name: string
  readonly type: string
  readonly help: string
  readonly samples: Array<Sample>
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"])

const parseValue = (text: string, line: string): number => {
  if (text === "+Inf") return Infinity
  if (text === "-Inf") return -Infinity
  if (text === "NaN") return NaN
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value ${JSON.stringify(text)} in: ${line}`)
  return Number(text)
}

/** `{a="x",b="y"}` from position `i` of `line` (which is at `{`): the labels and the position after `}`. */
const parseLabels = (line: string, i: number): [Record<string, string>, number] => {
  const labels: Record<string, string> = {}
  i++
  while (line[i] !== "}") {
    const eq = line.indexOf("=", i)
    if (eq < 0) throw new Error(`bad labels in: ${line}`)
    const name = line.slice(i, eq)
    if (!LABEL_NAME.test(name)) throw new Error(`bad label name ${JSON.stringify(name)} in: ${line}`)
    if (name in labels) throw new Error(`label ${name} twice in: ${line}`)
    if (line[eq + 1] !== "\"") throw new Error(`label value not quoted in: ${line}`)
    let j = eq + 2
    let value = ""
    for (;;) {
      const c = line[j]
      if (c === undefined) throw new Error(`unterminated label value in: ${line}`)
      if (c === "\"") break
      if (c === "\\") {
        const n = line[j + 1]
        if (n === "\\") value += "\\"
        else if (n === "\"") value += "\""
        else if (n === "n") value += "\n"
        else throw new Error(`bad escape \\${n} in: ${line}`)
        j += 2
      } else {
        value += c
        j++
      }
    }
    labels[name] = value
    i = j + 1
    if (line[i] === ",") i++
    else if (line[i] !== "}") throw new Error(`expected , or } after label ${name} in: ${line}`)
  }
  return [labels, i + 1]
}

const seriesKey = (name: string, labels: Record<string, string>) =>
  name + JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)))

/** Parses and validates an exposition; the families by name. */
export const parse = (text: string): Map<string, Family> => {
  const families = new Map<string, Family>()
  const seen = new Set<string>()
  const familyOf = (sample: string): Family | undefined => {
    const f = families.get(sample)
    if (f !== undefined) return f
    for (const suffix of ["_bucket", "_sum", "_count"]) {
      if (sample.endsWith(suffix)) {
        const h = families.get(sample.slice(0, -suffix.length))
        if (h !== undefined && (h.type === "histogram" || h.type === "summary")) return h
      }
    }
    return undefined
  }
  if (!text.endsWith("\n")) throw new Error("the exposition must end with a newline")
  for (const line of text.split("\n")) {
    if (line === "") continue
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
      if (m === null) continue // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string]
      if (!NAME.test(name)) throw new Error(`bad metric name in: ${line}`)
      const f = families.get(name) ?? { name, type: "", help: "", samples: [] }
      if (kind === "TYPE") {
        if (f.type !== "") throw new Error(`TYPE given twice for ${name}`)
        if (f.samples.length > 0) throw new Error(`TYPE after samples for ${name}`)
        if (!TYPES.has(rest)) throw new Error(`unknown type in: ${line}`)
        families.set(name, { ...f, type: rest })
      } else {
        families.set(name, { ...f, help: rest })
      }
      continue
    }
    const nameEnd = line.search(/[{ ]/)
    if (nameEnd <= 0) throw new Error(`bad sample line: ${line}`)
    const name = line.slice(0, nameEnd)
    if (!NAME.test(name)) throw new Error(`bad metric name in: ${line}`)
    let [labels, i] = line[nameEnd] === "{" ? parseLabels(line, nameEnd) : [{}, nameEnd]
    if (line[i] !== " ") throw new Error(`expected a space before the value in: ${line}`)
    const parts = line.slice(i + 1).split(" ")
    if (parts.length > 2 || (parts.length === 2 && !/^-?\d+$/.test(parts[1]!))) throw new Error(`bad value or timestamp in: ${line}`)
    const value = parseValue(parts[0]!, line)
    const f = familyOf(name)
    if (f === undefined || f.type === "") throw new Error(`sample before its TYPE: ${line}`)
    const key = seriesKey(name, labels)
    if (seen.has(key)) throw new Error(`duplicate series: ${line}`)
    seen.add(key)
    f.samples.push({ name, labels, value })
  }
  for (const f of families.values()) {
    if (f.type === "histogram") checkHistogram(f)
    if (f.type === "counter") {
      for (const s of f.samples) if (!(s.value >= 0)) throw new Error(`counter ${s.name} is ${s.value}`)
    }
  }
  return families
}

const checkHistogram = (f: Family) => {
  const series = new Map<string, { buckets: Array<[number, number]>; count?: number; sum?: number }>()
  for (const s of f.samples) {
    const { le, ...rest } = s.labels
    const key = JSON.stringify(Object.entries(rest).sort(([a], [b]) => a.localeCompare(b)))
    const h = series.get(key) ?? { buckets: [] }
    series.set(key, h)
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new Error(`${s.name} without le`)
      h.buckets.push([parseValue(le, s.name), s.value])
    } else if (s.name === `${f.name}_count`) h.count = s.value
    else if (s.name === `${f.name}_sum`) h.sum = s.value
    else throw new Error(`unexpected sample ${s.name} in histogram ${f.name}`)
  }
  for (const [key, h] of series) {
    if (h.count === undefined || h.sum === undefined) throw new Error(`histogram ${f.name}${key} lacks _count or _sum`)
    for (let i = 1; i < h.buckets.length; i++) {
      if (!(h.buckets[i]![0] > h.buckets[i - 1]![0])) throw new Error(`histogram ${f.name}${key}: le not ascending`)
      if (h.buckets[i]![1] < h.buckets[i - 1]![1]) throw new Error(`histogram ${f.name}${key}: bucket counts decrease`)
    }
    const last = h.buckets[h.buckets.length - 1]
    if (last === undefined || last[0] !== Infinity) throw new Error(`histogram ${f.name}${key}: no +Inf bucket`)
    if (last[1] !== h.count) throw new Error(`histogram ${f.name}${key}: +Inf bucket ${last[1]} != _count ${h.count}`)
  }
}

/** The sum of the values of `name`'s samples whose labels include `match`. */
export const value = (families: Map<string, Family>, name: string, match: Record<string, string> = {}): number => {
  let family: Family | undefined = families.get(name)
  if (family === undefined) {
    for (const suffix of ["_bucket", "_sum", "_count"]) {
      if (name.endsWith(suffix)) family = families.get(name.slice(0, -suffix.length))
    }
  }
  let total = 0
  for (const s of family?.samples ?? []) {
    if (s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)) total += s.value
  }
  return total
}
