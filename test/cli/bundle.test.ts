/**
 * The shipped `concord` binary is an esbuild bundle (see scripts/bundle-cli.mjs). Build a fresh one and
 * run it: a bundling mistake (a missing external, a dynamic import esbuild cannot follow) shows up
 * here rather than on a user's machine.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const root = join(import.meta.dirname, "../..")
let dir = ""
let bundle = ""

const concord = (...args: ReadonlyArray<string>) =>
  spawnSync(process.execPath, [bundle, ...args], { cwd: dir, encoding: "utf8", timeout: 60_000 })

describe("the bundled concord CLI", () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "concord-bundle-"))
    bundle = join(dir, "concord.mjs")
    execFileSync(process.execPath, [join(root, "scripts/bundle-cli.mjs"), bundle], { cwd: root })
  }, 60_000)
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it("prints help", () => {
    const r = concord("--help")
    expect(r.status).toBe(0)
    expect(r.stdout).toContain("concord")
  })

  it("checks a history (exit 1 for a stale read)", () => {
    const r = concord("check", join(root, "examples/histories/stale-read.jsonl"))
    expect(r.status).toBe(1)
    expect(r.stdout + r.stderr).toContain("not linearizable")
  })

  it("runs a MapReduce app sequentially with a built-in app", () => {
    const input = join(dir, "in.txt")
    writeFileSync(input, "the cat and the hat\nThe end\n")
    const r = concord("mr", "sequential", "--app", "wc", "--dir", join(dir, "out"), input)
    expect(r.status, r.stderr).toBe(0)
    const out = readFileSync(join(dir, "out", "mr-out-0"), "utf8")
    expect(out.split("\n").filter((l) => l.length > 0).sort()).toEqual(["The 1", "and 1", "cat 1", "end 1", "hat 1", "the 2"])
  })
})
