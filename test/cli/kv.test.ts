/**
 * `concord kv` client verbs in process: where values come from (argument, --file; stdin is in
 * test/deploy), the value limit, CONCORD_ENDPOINTS, and connecting until --timeout. One single-node
 * KvNode on loopback (file storage in a temp directory) for the verbs that need a cluster.
 */
import { NodeFileSystem } from "@effect/platform-node"
import { Effect, Exit, Scope } from "effect"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest"
import * as Kv from "../../src/cli/kv.js"
import * as Limits from "../../src/kv/Limits.js"
import * as KvNode from "../../src/kv/KvNode.js"
import { cliRunner } from "../support/cli.js"
import { freePort } from "../support/ports.js"

const run = cliRunner(Kv.command)
const dir = mkdtempSync(join(tmpdir(), "concord-kv-cli-"))
const file = (name: string, content: string | Uint8Array) => {
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}

let scope: Scope.CloseableScope
let endpoint = ""

beforeAll(async () => {
  const port = await freePort()
  endpoint = `127.0.0.1:${port}`
  scope = Effect.runSync(Scope.make())
  await Effect.runPromise(
    KvNode.make({ id: "n1", peers: { n1: endpoint }, dataDir: join(dir, "n1") }).pipe(
      Effect.provide(NodeFileSystem.layer),
      Scope.extend(scope)
    )
  )
}, 30_000)

afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Exit.void))
  rmSync(dir, { recursive: true, force: true })
})

afterEach(() => {
  vi.restoreAllMocks()
  vi.unstubAllEnvs()
})

describe("concord kv put/append values", () => {
  it("--file sends the file as it is", async () => {
    const text = file("value.txt", "two\nlines\n")
    expect(await run("kv", "put", "f", "--file", text, "--endpoints", endpoint, "--timeout", "10s")).toMatchObject({ code: 0, stdout: "OK" })
    expect(await run("kv", "append", "f", "--file", text, "--endpoints", endpoint)).toMatchObject({ code: 0, stdout: "OK" })
    expect(await run("kv", "get", "f", "--endpoints", endpoint)).toEqual({ code: 0, stdout: "two\nlines\ntwo\nlines\n", stderr: "" })
  })

  it("the value is VALUE, - or --file, exactly one; at most 1 MiB of UTF-8 text; refused before connecting", async () => {
    // No node listens at this endpoint: every refusal below happens before any connection attempt.
    const nowhere = ["--endpoints", `127.0.0.1:${await freePort()}`]
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
      [["kv", "put", "k"], "concord kv put: missing the value: give VALUE, - (stdin) or --file PATH"],
      [["kv", "put", "k", "v", "--file", file("v", "v")], "concord kv put: give the value as VALUE or with --file, not both"],
      [["kv", "append", "k", "--file", join(dir, "nope")], `concord kv append: cannot read ${join(dir, "nope")}: no such file or directory`],
      [["kv", "put", "k", "--file", dir], `concord kv put: ${dir} is not a file`],
      [
        ["kv", "put", "k", "--file", file("big", new Uint8Array(Limits.defaults.maxValueBytes + 1).fill(97))],
        `concord kv put: ${join(dir, "big")} is ${Limits.defaults.maxValueBytes + 1} bytes, over the limit of 1048576 bytes (1 MiB)`
      ],
      [["kv", "put", "k", "é".repeat(Limits.defaults.maxValueBytes / 2 + 1)], `concord kv put: the value is ${Limits.defaults.maxValueBytes + 2} bytes, over the limit of 1048576 bytes (1 MiB)`],
      [["kv", "put", "k", "--file", file("binary", new Uint8Array([0xff, 0xfe, 0x00]))], `concord kv put: ${join(dir, "binary")} is not UTF-8 text (values are strings)`]
    ]
    for (const [args, stderr] of cases) expect(await run(...args, ...nowhere)).toEqual({ code: 3, stdout: "", stderr })
    // Exactly at the limit is accepted (and stored).
    const limit = file("limit", new Uint8Array(Limits.defaults.maxValueBytes).fill(98))
    expect((await run("kv", "put", "at-limit", "--file", limit, "--endpoints", endpoint)).code).toBe(0)
    expect((await run("kv", "get", "at-limit", "--endpoints", endpoint)).stdout.length).toBe(Limits.defaults.maxValueBytes)
  })
})

describe("concord kv endpoints", () => {
  it("CONCORD_ENDPOINTS is used when --endpoints is not given, and --endpoints wins over it", async () => {
    vi.stubEnv("CONCORD_ENDPOINTS", endpoint)
    expect(await run("kv", "put", "env", "yes")).toMatchObject({ code: 0, stdout: "OK" })
    expect((await run("kv", "get", "env")).stdout).toBe("yes")
    const unused = `127.0.0.1:${await freePort()}`
    const flag = await run("kv", "get", "env", "--endpoints", unused, "--timeout", "300ms")
    expect(flag).toEqual({ code: 1, stdout: "", stderr: `concord kv get: no endpoint reachable within 300ms: ${unused} (ECONNREFUSED)` })
    vi.stubEnv("CONCORD_ENDPOINTS", unused)
    const env = await run("kv", "get", "env", "--timeout", "300ms")
    expect(env.stderr).toBe(`concord kv get: no endpoint reachable within 300ms (CONCORD_ENDPOINTS): ${unused} (ECONNREFUSED)`)
    vi.stubEnv("CONCORD_ENDPOINTS", "localhost")
    expect(await run("kv", "get", "env")).toEqual({ code: 3, stdout: "", stderr: `concord kv get: CONCORD_ENDPOINTS: "localhost" is not host:port` })
  })

  it("keeps trying to connect until --timeout", async () => {
    const unused = `127.0.0.1:${await freePort()}`
    const start = performance.now()
    const r = await run("kv", "get", "x", "--endpoints", unused, "--timeout", "1500ms")
    expect(r.code).toBe(1)
    expect(r.stderr).toContain("no endpoint reachable within 1s 500ms")
    // It gave up at its timeout, not at the first refused connection (which takes a millisecond).
    expect(performance.now() - start).toBeGreaterThan(1200)
  })
})
