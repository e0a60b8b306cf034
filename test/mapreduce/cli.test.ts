/**
 * `concord mr` in process: messages and exit codes of bad input and failures, and a sequential run.
 * (Whole jobs with real processes are in testMrProcesses.test.ts.)
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, afterEach, describe, expect, it, vi } from "vitest"
import * as Mr from "../../src/cli/mr.js"
import { cliRunner } from "../support/cli.js"
import { BOOKS_DIR, books } from "./support/MrHarness.js"

const dir = mkdtempSync(join(tmpdir(), "concord-mr-cli-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const inputs = books.map((b) => join(BOOKS_DIR, b.name))
/** Runs `concord ...args` in process: the exit code main.ts would use, and the output. */
const run = cliRunner(Mr.command)

afterEach(() => {
  vi.restoreAllMocks()
})

describe("concord mr (in process)", () => {
  it("sequential writes mr-out-0 and says where", async () => {
    const out = join(dir, "seq")
    const r = await run("mr", "sequential", "--app", "wc", "--dir", out, ...inputs)
    expect(r.code).toBe(0)
    const wrote = new RegExp(`^wrote ${out}/mr-out-0: 22107 lines from 8 files \\(3\\.3 MB\\) in [\\d.]+ s$`)
    expect(r.stdout).toMatch(wrote)
    expect(readFileSync(join(out, "mr-out-0"), "utf8").split("\n")[0]).toBe("A 509")
  })

  it("bad input exits 3 with one line naming the problem", async () => {
    const app = await run("mr", "sequential", "--app", "wordcount", inputs[0]!)
    expect(app).toEqual({
      code: 3,
      stdout: "",
      stderr: `concord mr sequential: cannot load app "wordcount": not a built-in app ` +
        `(wc, indexer, mtiming, rtiming, jobcount, early_exit, crash, nocrash) nor a module path (like ./app.js)`
    })
    const missing = await run("mr", "run", "--app", "wc", inputs[0]!, join(dir, "nope.txt"))
    expect(missing).toEqual({
      code: 3,
      stdout: "",
      stderr: `concord mr run: cannot read ${join(dir, "nope.txt")}: no such file or directory`
    })
    mkdirSync(join(dir, "adir"), { recursive: true })
    const notFile = await run("mr", "coordinator", join(dir, "adir"))
    expect(notFile).toEqual({
      code: 3,
      stdout: "",
      stderr: `concord mr coordinator: ${join(dir, "adir")} is not a file`
    })
    const module = await run("mr", "worker", "--coordinator", "127.0.0.1:1", "--app", "./no/such/app.js")
    expect(module.code).toBe(3)
    expect(module.stderr).toMatch(/^concord mr worker: cannot load app "\.\/no\/such\/app\.js": no module at /)
    const address = await run("mr", "worker", "--coordinator", "localhost", "--app", "wc")
    expect(address).toEqual({
      code: 3,
      stdout: "",
      stderr: `concord mr worker: --coordinator must be HOST:PORT, got "localhost"`
    })
  })

  it("flags @effect/cli rejects exit 3", async () => {
    const workers = await run("mr", "run", "--app", "wc", "--workers", "0", inputs[0]!)
    expect(workers.code).toBe(3)
    expect(workers.stderr).toContain("--workers must be at least 1, got 0")
    const lease = await run("mr", "coordinator", "--lease", "soon", inputs[0]!)
    expect(lease.code).toBe(3)
    expect(lease.stderr).toContain(`--lease: "soon" is not a duration (try 10s, 500ms, 2m)`)
    expect((await run("mr", "run", "--app", "wc")).code).toBe(3) // no FILE
    expect((await run("mr", "run", "--app", "wc", "--progress", "fancy", inputs[0]!)).code).toBe(3)
    const unknown = await run("mr", "run", "--app", "wc", inputs[0]!, "--bogus")
    expect(unknown).toEqual({ code: 3, stdout: "", stderr: "concord mr run: unknown option --bogus (see concord mr run --help)" })
  })

  it("a coordinator that cannot listen exits 1 with the reason", async () => {
    const server = net.createServer()
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const port = (server.address() as net.AddressInfo).port
    try {
      const r = await run("mr", "coordinator", "--port", String(port), "--progress", "none", inputs[0]!)
      expect(r).toEqual({
        code: 1,
        stdout: "",
        stderr: `concord mr coordinator: cannot listen on 127.0.0.1:${port}: address already in use`
      })
    } finally {
      server.close()
    }
  })

  it("a worker that never reaches its coordinator exits 1", async () => {
    // A port nobody listens on: bind, note it, close.
    const server = net.createServer()
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const port = (server.address() as net.AddressInfo).port
    await new Promise<void>((resolve) => server.close(() => resolve()))
    const r = await run("mr", "worker", "--coordinator", `127.0.0.1:${port}`, "--app", "wc")
    expect(r).toEqual({
      code: 1,
      stdout: "",
      stderr: `concord mr worker: cannot reach the coordinator at 127.0.0.1:${port}`
    })
  }, 20_000)
})
