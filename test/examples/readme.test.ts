/**
 * README's TypeScript is the files under examples/: each ```ts block follows a `<!-- examples/NAME.ts -->`
 * line and is that file, with its imports of Concord's source written as a user writes them
 * ("../src/index.js" is "concord-dist", "../src/kv/index.js" is "concord-dist/kv"). `tsc` (npm test)
 * type-checks the files, so every snippet compiles as pasted; the ones that are quick to run run here.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, afterEach, describe, expect, it, vi } from "vitest"
import * as Mr from "../../src/cli/mr.js"
import { cliRunner } from "../support/cli.js"

const root = join(import.meta.dirname, "../..")
const readme = readFileSync(join(root, "README.md"), "utf8")

/** How README shows an example file: imports of Concord's source become the package's entry points. */
export const asPublished = (source: string) =>
  source
    .replaceAll(`"../src/index.js"`, `"concord-dist"`)
    .replace(/"\.\.\/src\/(kv|check|mapreduce)\/index\.js"/g, (_, entry: string) => `"concord-dist/${entry}"`)

const blocks = [...readme.matchAll(/^(.*)\n```ts\n([\s\S]*?)^```$/gm)].map((m) => ({ marker: m[1]!, code: m[2]! }))

describe("README's TypeScript snippets", () => {
  it("are all files under examples/, shown as they are", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(5)
    for (const { code, marker } of blocks) {
      const file = /^<!-- (examples\/[\w/.-]+\.ts) -->$/.exec(marker)?.[1]
      expect(file, `a ts block without an examples/ marker, starting ${code.slice(0, 60)}`).toBeDefined()
      expect(code, file).toBe(asPublished(readFileSync(join(root, file!), "utf8")))
    }
  })

  it("import only the package's entry points and other packages", () => {
    for (const { code } of blocks) {
      for (const m of code.matchAll(/from "([^"]+)"/g)) {
        expect(m[1]).toMatch(/^(concord-dist(\/(kv|check|mapreduce))?|effect|@effect\/[\w-]+|node:\w+)$/)
      }
    }
  })
})

describe("the examples run", () => {
  const dir = mkdtempSync(join(tmpdir(), "concord-examples-"))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it("check-history: the stale read is found", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {})
    const { result } = await import("../../examples/check-history.js")
    expect(result._tag).toBe("Illegal")
    expect(log.mock.calls[0]![0]).toMatch(/^not linearizable: partition "x"/)
  })

  it("bigrams: concord mr sequential runs it as an app", async () => {
    const input = join(dir, "in.txt")
    writeFileSync(input, "the cat saw the cat")
    const r = await cliRunner(Mr.command)("mr", "sequential", "--app", join(root, "examples/bigrams.ts"), "--dir", dir, input)
    expect(r.code, r.stderr).toBe(0)
    expect(readFileSync(join(dir, "mr-out-0"), "utf8")).toBe("cat saw 1\nsaw the 1\nthe cat 2\n")
  })

  it("counters: the state machine's snapshot restores its state", () => {
    return import("../../examples/counters.js").then(({ counters }) => {
      const [state] = counters.apply(counters.apply(counters.initial(), { name: "a", amount: 2 })[0], { name: "b", amount: 1 })
      expect([...counters.restore(counters.snapshot(state))]).toEqual([["a", 2], ["b", 1]])
    })
  })
})
