/**
 * What a person sees: one style of help and of command-line errors for every command (in process),
 * and no colour when the output is not a terminal (a real process, its stdout a pipe).
 */
import { spawnSync } from "node:child_process"
import { join } from "node:path"
import { afterEach, describe, expect, it, vi } from "vitest"
import * as Check from "../../src/cli/check.js"
import * as Cluster from "../../src/cli/cluster.js"
import * as Demo from "../../src/cli/demo.js"
import * as App from "../../src/cli/internal/app.js"
import * as Kv from "../../src/cli/kv.js"
import * as Mr from "../../src/cli/mr.js"
import { cliRunner } from "../support/cli.js"

const subcommands = [Kv.command, Cluster.command, Demo.command, Check.command, Mr.command] as const
const run = cliRunner(...subcommands)
const root = App.tree(App.make({ description: "test", version: "test", subcommands }).root)

const all = (node: App.Node): Array<App.Node> => [node, ...node.children.flatMap(all)]
const leaves = all(root).filter((n) => n.children.length === 0)

afterEach(() => {
  vi.restoreAllMocks()
})

describe("help", () => {
  it("reaches every command", () => {
    expect(leaves.map((n) => n.path)).toEqual([
      "kv serve", "kv get", "kv put", "kv append", "kv del", "kv status", "kv member list", "kv member add",
      "kv member promote", "kv member remove", "kv transfer-leader", "kv snapshot save", "kv snapshot status", "kv snapshot restore",
      "cluster up", "demo", "check",
      "mr run", "mr sequential", "mr coordinator", "mr worker"
    ])
  })

  it("of every command: a title, a usage line naming the whole command, a real description of every option", async () => {
    for (const node of all(root).slice(1)) {
      const r = await run(...node.path.split(" "), "--help")
      expect(r.code, node.path).toBe(0)
      expect(r.stderr).toBe("")
      const lines = r.stdout.split("\n")
      expect(lines[0]).toMatch(new RegExp(`^concord ${node.path}: [a-zA-Z]`))
      expect(r.stdout).toContain(`usage: concord ${node.path} `)
      expect(r.stdout).not.toMatch(/A user-defined piece of text|This setting is optional|--wizard|--completions|\$ /)
      expect(r.stdout).not.toContain("\x1b")
      for (const o of node.options) {
        expect(o.description, `${node.path} ${o.names[0]}`).not.toBe("")
        expect(o.placeholder ?? "", `${node.path} ${o.names[0]}`).not.toMatch(/^(text|integer)$/)
      }
    }
  })

  it("reads like this for kv get", async () => {
    const r = await run("kv", "get", "--help")
    expect(r.stdout).toBe([
      "concord kv get: print the value of KEY (empty if it has none)",
      "",
      "usage: concord kv get [--endpoints HOST:PORT,...] [--timeout DURATION] [--tls-ca FILE]",
      "        [--tls-cert FILE] [--tls-key FILE] [--auth-token-file FILE] <key>",
      "",
      "arguments:",
      "  <key>  the key",
      "",
      "options:",
      "  --endpoints HOST:PORT,...  Raft/KV addresses of any of the cluster's nodes (default:",
      "                             $CONCORD_ENDPOINTS, else 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003)",
      "  --timeout DURATION         give up after this long, waiting for a node to answer (it may still be",
      "                             starting) and for a leader (default 5s)",
      "  --tls-ca FILE              talk TLS, verifying the servers against this CA (PEM) (default",
      "                             $CONCORD_TLS_CA)",
      "  --tls-cert FILE            a client certificate to present (PEM), with --tls-key (default",
      "                             $CONCORD_TLS_CERT)",
      "  --tls-key FILE             the private key of --tls-cert (default $CONCORD_TLS_KEY)",
      "  --auth-token-file FILE     a file holding the client token the servers require (default",
      "                             $CONCORD_AUTH_TOKEN_FILE)",
      "  -h, --help                 show this help"
    ].join("\n"))
  })

  it("of a group lists its commands, also when no command is given", async () => {
    const kv = await run("kv")
    expect(kv.code).toBe(0)
    expect(kv.stdout).toContain("usage: concord kv <command> [options]")
    for (const verb of ["serve", "get", "put", "append", "del", "status"]) expect(kv.stdout).toMatch(new RegExp(`\\n  ${verb} +\\S`))
    expect((await run("kv", "--help")).stdout).toBe(kv.stdout)
    expect((await run("--help")).stdout).toMatch(/^concord: test\n\nusage: concord <command> \[options\]\n\ncommands:\n  kv /)
  })

  it("is coloured only on a terminal, and never with NO_COLOR", () => {
    const node = leaves[0]!
    expect(App.helpText(node, { color: true })).toContain("\x1b[1m")
    expect(App.helpText(node, { color: false })).not.toContain("\x1b")
    const tty = { isTTY: true } as NodeJS.WriteStream
    vi.stubEnv("NO_COLOR", "")
    expect(App.colorFor(tty)).toBe(true)
    expect(App.colorFor({ isTTY: false } as NodeJS.WriteStream)).toBe(false)
    vi.stubEnv("NO_COLOR", "1")
    expect(App.colorFor(tty)).toBe(false)
    vi.unstubAllEnvs()
  })
})

describe("bad command lines and flag values: one line, concord <command>: …, exit 3", () => {
  const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
    [["kv", "putt"], `concord kv: unknown command "putt" (did you mean put?); the kv commands are serve, get, put, append, del, status, member, transfer-leader, snapshot (see concord kv --help)`],
    [["frob"], `concord: unknown command "frob"; the commands are kv, cluster, demo, check, mr (see concord --help)`],
    [["kv", "put", "--endpoint", "x", "k", "v"], "concord kv put: unknown option --endpoint (did you mean --endpoints?) (see concord kv put --help)"],
    [["mr", "run", "--wrokers", "3", "--app", "wc", "f"], "concord mr run: unknown option --wrokers (did you mean --workers?) (see concord mr run --help)"],
    [["demo", "--bogus"], "concord demo: unknown option --bogus (see concord demo --help)"],
    [["check", "-x", "f.jsonl"], "concord check: unknown option -x (see concord check --help)"],
    [["kv", "get"], "concord kv get: missing argument <key> (see concord kv get --help)"],
    [["kv", "serve"], "concord kv serve: missing option --id (see concord kv serve --help)"],
    [["kv", "get", "k", "--timeout"], "concord kv get: --timeout needs a value (see concord kv get --help)"],
    [["kv", "get", "k", "extra"], `concord kv get: unexpected argument "extra" (see concord kv get --help)`],
    [["kv", "get", "k", "--timeout", "soon"], `concord kv get: --timeout: "soon" is not a duration (try 10s, 500ms, 2m) (see concord kv get --help)`],
    [["demo", "--clients", "0"], "concord demo: --clients must be 1 to 1000, got 0 (see concord demo --help)"],
    [["demo", "--operations", "1.5"], `concord demo: --operations: "1.5" is not an integer (see concord demo --help)`],
    [["demo", "--clients", "-1"], "concord demo: --clients must be 1 to 1000, got -1 (see concord demo --help)"],
    [["demo", "--operations", "0"], "concord demo: --operations must be 1 to 1000000, got 0 (see concord demo --help)"],
    [["cluster", "up", "--nodes", "0"], "concord cluster up: --nodes must be 1 to 9, got 0 (see concord cluster up --help)"],
    [["cluster", "up", "--base-port", "65534"], "concord cluster up: ports 65534 to 65536 go past 65535"],
    [["kv", "serve", "--id", "n1", "--http-port", "70000"], "concord kv serve: --http-port must be 0 to 65535, got 70000 (see concord kv serve --help)"],
    [["kv", "serve", "--id", "n1", "--max-raft-state", "-2"], "concord kv serve: --max-raft-state must be at least -1, got -2 (see concord kv serve --help)"],
    [["kv", "serve", "--id", "n1", "--heartbeat", "0s"], "concord kv serve: --heartbeat must be more than 0, got 0s (see concord kv serve --help)"],
    [["kv", "serve", "--id", "n1", "--heartbeat", "300ms"], "concord kv serve: --heartbeat (300ms) must be less than --election-timeout (300ms)"],
    [["kv", "get", "k", "--timeout", "0s"], "concord kv get: --timeout must be more than 0, got 0s (see concord kv get --help)"],
    [["mr", "run", "--app", "wc", "--max-restarts", "-1", "f"], "concord mr run: --max-restarts must be at least 0, got -1 (see concord mr run --help)"],
    [["check", "--max-steps", "0", "f"], "concord check: --max-steps must be at least 1, got 0 (see concord check --help)"],
    [["mr", "run", "--progress", "fancy", "--app", "wc", "f"], `concord mr run: --progress: "fancy" is not one of auto, bar, log, none (see concord mr run --help)`]
  ]
  for (const [args, message] of cases) {
    it(args.join(" "), async () => {
      expect(await run(...args)).toEqual({ code: 3, stdout: "", stderr: message })
    })
  }
})

describe("a real process", () => {
  // Through tsx from source, as test/check/cli.test.ts does; stdout and stderr are pipes.
  const main = join(import.meta.dirname, "../../src/cli/main.ts")
  const concord = (...args: ReadonlyArray<string>) =>
    spawnSync(process.execPath, ["--import", "tsx", main, ...args], { encoding: "utf8", timeout: 30_000, env: { ...process.env, NO_COLOR: "" } })

  it("prints help without colour into a pipe, and errors as one line", () => {
    const help = concord("kv", "put", "--help")
    expect(help.status).toBe(0)
    expect(help.stdout).toMatch(/^concord kv put: /)
    expect(help.stdout).not.toContain("\x1b")
    const bad = concord("kv", "putt")
    expect(bad.status).toBe(3)
    expect(bad.stdout).toBe("")
    expect(bad.stderr).toMatch(/^concord kv: unknown command "putt" .*\n$/)
    expect(bad.stderr.split("\n").length).toBe(2)
  }, 60_000)
})
