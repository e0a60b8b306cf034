/**
 * The HTML view's structure, without a browser (the rendered look is checked by
 * `scripts/check-view.ts` in headless Chromium).
 */
import { NodeFileSystem } from "@effect/platform-node"
import { Effect } from "effect"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import * as HtmlView from "../../src/check/HtmlView.js"
import * as Linearizability from "../../src/check/Linearizability.js"
import * as Kv from "../../src/check/models/Kv.js"
import { linearizableKv } from "./support/histories.js"

const put = (c: number, key: string, value: string, call: number, ret: number | undefined) =>
  Kv.operation(c, { op: "put", key, value }, call, ret, ret === undefined ? undefined : {})
const get = (c: number, key: string, value: string, call: number, ret: number) =>
  Kv.operation(c, { op: "get", key }, call, ret, { value })

// Key "x" fails at client 3's stale read; key "y" is fine.
const history: Kv.History = [
  put(1, "x", "a", 0, 10),
  put(2, "x", "b", 5, 30),
  get(3, "x", "b", 12, 20),
  get(1, "x", "b", 32, 40),
  get(3, "x", "a", 42, 50),
  put(2, "y", "1", 35, 45),
  get(4, "y", "1", 36, 44),
  put(4, "x", "c", 46, undefined)
]

const count = (html: string, pattern: RegExp) => (html.match(pattern) ?? []).length
const section = (html: string, id: string) => {
  const start = html.indexOf(`id="${id}"`)
  return html.slice(start, html.indexOf("</details>", start))
}

describe("HtmlView.render", () => {
  const result = Linearizability.checkHistory(Kv.model, history)
  const html = HtmlView.render(Kv.model, history, result)

  it("is one self-contained page: inline style and script, no network fetches", () => {
    expect(html.startsWith("<!doctype html>")).toBe(true)
    expect(html).toContain("<style>")
    expect(html).toContain("<script>")
    expect(html).not.toMatch(/<script[^>]*\ssrc=/)
    expect(html).not.toMatch(/<link\b/)
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?(https?:)?\/\//)
    expect(html).not.toMatch(/@import|url\(/)
    expect(html).toMatch(/<\/html>\s*$/)
  })

  it("states the verdict and explains the failure", () => {
    expect(html).toContain(`<div class="verdict illegal">Not linearizable</div>`)
    expect(html).toContain("not linearizable: partition &quot;x&quot;")
    expect(html).toContain("illegal next: client 3: get(&quot;x&quot;) → &quot;a&quot;")
  })

  it("draws the illegal partition first, open, with one lane per client", () => {
    expect(html.indexOf(`id="p0"`)).toBeLessThan(html.indexOf(`id="p1"`))
    const x = section(html, "p0")
    expect(x).toMatch(/^id="p0" data-status="Illegal" open>/)
    const lanes = [...x.matchAll(/<span class="lane-label">client (\d+)<\/span>/g)].map((m) => m[1])
    expect(lanes).toEqual(["1", "2", "3", "4"])
    expect(count(x, /class="op /g)).toBe(6)
  })

  it("marks the longest linearizable prefix, the illegal next operation and the failure time", () => {
    const x = section(html, "p0")
    const p = result.partitions.find((q) => q.label === "x")!
    expect(count(x, /class="op lin/g)).toBe(p.longest.length)
    for (let k = 1; k <= p.longest.length; k++) expect(x).toContain(`<b>${k}</b>`)
    expect(count(x, /class="op bad blocking"/g)).toBe(1)
    expect(x).toContain(`<div class="fail-line"`)
    expect(x).toContain("illegal by t=50")
    expect(x).toMatch(/<polyline points="[\d., ]+"\/>/)
  })

  it("shows never-returned operations open-ended, past the last time", () => {
    const x = section(html, "p0")
    expect(x).toMatch(/class="op (lin|rest|bad) pending"/)
    expect(x).toContain(">∞</span>")
  })

  it("puts describe strings and model states in the hover card", () => {
    const x = section(html, "p0")
    expect(x).toContain(`data-tip="get(&quot;x&quot;) → &quot;a&quot;&#10;`.replace("&#10;", "\n"))
    expect(x).toMatch(/state before: &quot;a&quot;\nstate after: &quot;b&quot;/)
    expect(x).toContain("illegal as the next operation")
  })

  it("has a legend and a partition table", () => {
    expect(html).toContain(`<section class="legend">`)
    expect(html).toMatch(/<tr class="illegal"><td><a href="#p0">&quot;x&quot;<\/a><\/td><td>6<\/td><td>\d+<\/td>/)
    expect(html).toMatch(/<tr class="ok"><td><a href="#p1">&quot;y&quot;<\/a><\/td><td>2<\/td><td>2<\/td>/)
  })

  it("escapes everything that comes from the history", () => {
    const evil: Kv.History = [put(0, "</script><img onerror=x>", "<b>&", 0, 1)]
    const page = HtmlView.render(Kv.model, evil, Linearizability.checkHistory(Kv.model, evil), { title: "<t>" })
    expect(page).not.toContain("<img")
    expect(page).not.toContain("<b>&")
    expect(page).toContain("<title>&lt;t&gt;</title>")
  })

  it("draws a window around the failure of a long partition", () => {
    const { history: long } = linearizableKv({ ops: 3000, keys: 1, clients: 4, overlap: 3, seed: 1 })
    const bad = long.length - 10
    const corrupted = long.map((op, i) =>
      i === bad ? { ...op, input: { op: "get" as const, key: op.input.key }, output: { value: "!" } } : op
    )
    const r = Linearizability.checkHistory(Kv.model, corrupted)
    expect(r._tag).toBe("Illegal")
    const page = HtmlView.render(Kv.model, corrupted, r, { maxOpsPerPartition: 200 })
    expect(page).toContain("Showing 200 of 3000 operations")
    expect(count(page, /class="op /g)).toBe(200)
    expect(page).toContain(`class="op bad blocking"`)
  })

  it("limits the partitions drawn and lists the rest", () => {
    const { history: many } = linearizableKv({ ops: 400, keys: 50, clients: 4, overlap: 3, seed: 2 })
    const r = Linearizability.checkHistory(Kv.model, many)
    const page = HtmlView.render(Kv.model, many, r, { maxPartitions: 5 })
    expect(count(page, /<details class="partition /g)).toBe(5)
    expect(count(page, /<tr class="ok">/g)).toBe(r.partitions.length)
    expect(page).toContain(`${r.partitions.length - 5} more partitions are listed above but not drawn`)
  })
})

describe("HtmlView.writeFile", () => {
  it("writes the page", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "concord-view-")), "history.html")
    const result = Linearizability.checkHistory(Kv.model, history)
    const write = HtmlView.writeFile(path, Kv.model, history, result)
    await Effect.runPromise(write.pipe(Effect.provide(NodeFileSystem.layer)))
    expect(readFileSync(path, "utf8")).toBe(HtmlView.render(Kv.model, history, result))
  })
})
