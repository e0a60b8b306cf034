/**
 * `concord check`: in process for the messages and the HTML file, and as a real process (through tsx)
 * for the exit codes.
 */
import { execFile } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { cliRunner } from "../support/cli.js"
import { afterEach, describe, expect, it, vi } from "vitest"
import * as Kv from "../../src/check/models/Kv.js"
import * as Check from "../../src/cli/check.js"
import { linearizableKv } from "./support/histories.js"
import { hotKeyHistory } from "./support/hotkey.js"

const dir = mkdtempSync(join(tmpdir(), "concord-check-"))
const file = (name: string, lines: ReadonlyArray<string>) => {
  const path = join(dir, name)
  writeFileSync(path, lines.join("\n") + "\n")
  return path
}

const okFile = file("ok.jsonl", [
  `{"client": 0, "op": "put", "key": "x", "value": "1", "call": 0, "return": 100}`,
  `{"client": 1, "op": "get", "key": "x", "output": "1", "call": 10, "return": 20}`,
  `{"client": 2, "op": "get", "key": "x", "output": "", "call": 5, "return": 15}`,
  `{"client": 3, "op": "append", "key": "x", "value": "2", "call": 30}`
])
const illegalFile = file("illegal.jsonl", [
  `{"client": 0, "op": "put", "key": "a", "value": "1", "call": 0, "return": 10}`,
  `{"client": 0, "op": "put", "key": "x", "value": "1", "call": 0, "return": 10}`,
  `{"client": 1, "op": "get", "key": "x", "output": "", "call": 20, "return": 30}`
])
const badFile = file("bad.jsonl", [
  `{"client": 0, "op": "put", "key": "x", "value": "1", "call": 0, "return": 10}`,
  ``,
  `{"client": 1, "op": "get", "key": "x", "output": "", "call": 20, "return": "soon"}`
])
const bigFile = (() => {
  const path = join(dir, "big.jsonl")
  writeFileSync(path, Kv.encodeJsonl(linearizableKv({ ops: 2000, keys: 4, clients: 6, overlap: 5, seed: 11 }).history))
  return path
})()

const hotFile = (() => {
  const path = join(dir, "hot.jsonl")
  const { history } = hotKeyHistory({ ops: 500, clients: 20, pending: 0.05, prefixes: true, seed: 520 })
  writeFileSync(path, Kv.encodeJsonl(history))
  return path
})()

/** Runs `concord ...args` in process: the exit code main.ts would use, and the output. */
const run = cliRunner(Check.command)

afterEach(() => {
  vi.restoreAllMocks()
})

describe("concord check (in process)", () => {
  it("exit 0 on a linearizable history", async () => {
    const r = await run("check", okFile)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^linearizable: 4 operations in 1 partition \(\d+ search steps\)$/)
    expect(r.stderr).toBe("")
  })

  it("exit 1 on a non-linearizable history, naming the partition and where it fails", async () => {
    const r = await run("check", illegalFile)
    expect(r.code).toBe(1)
    expect(r.stdout.split("\n")).toEqual([
      `not linearizable: partition "x": only 1 of its 2 operations linearize; ` +
      `by t=30 (when client 1's get("x") → "" returned) no operation can take effect next`,
      `  state after the longest linearizable prefix: "1"`,
      `  illegal next: client 1: get("x") → "" [call 20, return 30; #2]`
    ])
  })

  it("exit 2 when the budget runs out", async () => {
    const r = await run("check", "--max-steps", "10", bigFile)
    expect(r.code).toBe(2)
    expect(r.stdout).toMatch(/^unknown: the step budget ran out after 10 steps with 4 of 4 partitions undecided/)
    const t = await run("check", "--timeout", "0s", bigFile)
    expect(t.code).toBe(2)
    expect(t.stdout).toMatch(/^unknown: the time budget ran out/)
  })

  it("--search: the pruned search (the default for kv) decides a hot-key history the plain one cannot", async () => {
    const plain = await run("check", "--search", "plain", "--max-steps", "200000", hotFile)
    expect(plain.code).toBe(2)
    expect(plain.stdout).toMatch(/^unknown: the step budget ran out after 200000 steps/)
    for (const search of [[], ["--search", "pruned"], ["--search", "auto"]]) {
      const r = await run("check", ...search, "--max-steps", "200000", hotFile)
      expect(r.code).toBe(0)
      expect(r.stdout).toMatch(/^linearizable: 500 operations in 1 partition/)
    }
    expect((await run("check", "--search", "fast", okFile)).stderr).toBe(
      `concord check: --search: "fast" is not one of auto, pruned, plain (see concord check --help)`
    )
  })

  it("exit 3 on a bad line, naming the line", async () => {
    const r = await run("check", badFile)
    const stderr = `concord check: ${badFile} line 3: "return": must be a number or null, not "soon"`
    expect(r).toEqual({ code: 3, stdout: "", stderr })
  })

  it("exit 3 on a missing file or a bad flag", async () => {
    const missing = await run("check", join(dir, "nope.jsonl"))
    expect(missing.code).toBe(3)
    expect(missing.stderr).toBe(`concord check: cannot read ${join(dir, "nope.jsonl")}: no such file or directory`)
    const timeout = await run("check", "--timeout", "soon", okFile)
    expect(timeout.code).toBe(3)
    expect(timeout.stderr).toContain(`--timeout: "soon" is not a duration (try 10s, 500ms, 2m)`)
    expect((await run("check", "--model", "etcd", okFile)).stderr).toBe(
      `concord check: --model: "etcd" is not one of kv, register, queue, set (see concord check --help)`
    )
    expect((await run("check")).code).toBe(3)
  })

  it("writes the HTML view with --html", async () => {
    const out = join(dir, "view.html")
    const r = await run("check", "--html", out, illegalFile)
    expect(r.code).toBe(1)
    expect(r.stdout).toContain(`wrote ${out}`)
    const html = readFileSync(out, "utf8")
    expect(html).toContain(`<div class="verdict illegal">Not linearizable</div>`)
    expect(html).toContain(`concord check ${illegalFile}`)
  })

  it("takes several files: one verdict line each, exit code the worst, one HTML view each", async () => {
    const both = await run("check", okFile, illegalFile)
    expect(both.code).toBe(1)
    expect(both.stdout.split("\n")[0]).toMatch(new RegExp(`^${okFile}: linearizable: 4 operations`))
    expect(both.stdout.split("\n")[1]).toMatch(new RegExp(`^${illegalFile}: not linearizable: partition "x"`))
    const html = join(dir, "views.html")
    const worst = await run("check", "--html", html, illegalFile, join(dir, "nope.jsonl"), okFile)
    expect(worst.code).toBe(3)
    expect(worst.stderr).toBe(`concord check: cannot read ${join(dir, "nope.jsonl")}: no such file or directory`)
    expect(worst.stdout).toContain(`wrote ${join(dir, "views-illegal.html")}`)
    expect(worst.stdout).toContain(`wrote ${join(dir, "views-ok.html")}`)
    expect(readFileSync(join(dir, "views-illegal.html"), "utf8")).toContain(`concord check ${illegalFile}`)
    expect((await run("check", "--max-steps", "10", okFile, bigFile)).code).toBe(2)
  })

  it("checks the register, queue and set models", async () => {
    const register = file("register.jsonl", [
      `{"client": 0, "op": "write", "value": 1, "call": 0, "return": 10}`,
      `{"client": 1, "op": "read", "output": 0, "call": 20, "return": 30}`
    ])
    const r = await run("check", "--model", "register", register)
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/^not linearizable: the history: only 1 of its 2 operations linearize; .*client 1.s read\(\) → 0 returned/)
    const queue = file("queue.jsonl", [`{"client": 0, "op": "enqueue", "value": 1, "call": 0, "return": 10}`])
    expect((await run("check", "--model", "queue", queue)).code).toBe(0)
    const set = file("set.jsonl", [`{"client": 0, "op": "take", "output": null, "call": 0, "return": 10}`])
    expect((await run("check", "--model", "set", set)).code).toBe(0)
    expect(await run("check", "--model", "register", okFile)).toEqual({
      code: 3,
      stdout: "",
      stderr: `concord check: ${okFile} line 1: "op": must be "read", "write" or "cas", not "put"`
    })
  })

  it("checks a generated history", async () => {
    const r = await run("check", "--timeout", "30s", bigFile)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^linearizable: 2000 operations in 4 partitions/)
  })
})

describe("concord check (process)", () => {
  const main = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url))
  const spawn = (...args: ReadonlyArray<string>) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ["--import", "tsx", main, ...args], { timeout: 30_000 }, (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, stdout, stderr }))
    })

  // Each process costs a second or more of start-up (tsx, Effect), so this covers the two failure
  // paths of main.ts's exit-code mapping (a CliExit failure, an @effect/cli ValidationError); success
  // exits 0, and which outcome each input produces is tested in process above.
  it("maps outcomes to process exit codes", async () => {
    expect(existsSync(main)).toBe(true)
    const [illegal, usage] = await Promise.all([spawn("check", illegalFile), spawn("check", "--timeout")])
    expect(illegal).toMatchObject({ code: 1, stdout: expect.stringMatching(/^not linearizable: partition "x"/) })
    expect(usage.code).toBe(3)
  }, 60_000)
})
