/**
 * The package's entry points (package.json `exports`) resolve in plain Node, by the package's name, to
 * the namespaces they promise; each `types` file is the declaration of the same source module; and the
 * main entry point stays lean: nothing it loads reaches KvNode, the HTTP API or the whole of
 * @effect/platform (`npm run bench -- import` times it).
 *
 * The library is transpiled with esbuild (no type-check: tsc does that) into a temporary
 * node_modules/concord-dist beside a copy of package.json, so the test needs no `npm run build`. And
 * `npm i -g` of the package gives a `concord` command that runs anywhere (`npx concord` outside the
 * checkout finds an unrelated package of that name).
 */
import { build } from "esbuild"
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, relative, resolve } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const root = join(import.meta.dirname, "../..")
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  readonly exports: Record<string, string | { readonly types: string; readonly default: string }>
}
let dir = ""

const sources = (d: string): Array<string> =>
  readdirSync(d, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(d, e.name)) : e.name.endsWith(".ts") ? [join(d, e.name)] : [])

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "concord-exports-"))
  const installed = join(dir, "node_modules/concord-dist")
  mkdirSync(installed, { recursive: true })
  await build({
    entryPoints: sources(join(root, "src")),
    outdir: join(installed, "dist"),
    outbase: join(root, "src"),
    format: "esm",
    platform: "node",
    logLevel: "warning"
  })
  writeFileSync(join(installed, "package.json"), JSON.stringify(pkg))
  symlinkSync(join(root, "node_modules"), join(installed, "node_modules"))
}, 60_000)

afterAll(() => rmSync(dir, { recursive: true, force: true }))

const namesOf = (specifier: string): ReadonlyArray<string> => {
  const script = `const m = await import(${JSON.stringify(specifier)}); console.log(JSON.stringify(Object.keys(m).sort()))`
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: dir, encoding: "utf8", timeout: 60_000 })
  expect(r.status, r.stderr).toBe(0)
  return JSON.parse(r.stdout) as ReadonlyArray<string>
}

describe("the package's entry points", () => {
  it("resolve by name in plain Node to what they promise", () => {
    const main = namesOf("concord-dist")
    expect(main).toContain("KvClient")
    expect(main).toContain("Raft")
    expect(main).not.toContain("KvNode")
    expect(main).toContain("SimCluster")
    expect(main).toContain("SimShards")
    expect(main.length).toBe(42)
    expect(namesOf("concord-dist/kv")).toEqual(["HttpKit", "KvClient", "KvNode", "KvServer", "KvStateMachine"])
    expect(namesOf("concord-dist/shard")).toEqual([
      "CtrlClient", "CtrlNode", "CtrlServer", "CtrlStateMachine", "Rebalance", "ShardConfig", "ShardKvClient", "ShardKvMessages",
      "ShardKvNode", "ShardKvServer", "ShardStateMachine"
    ])
    expect(namesOf("concord-dist/check")).toEqual([
      "CheckModel", "History", "HtmlView", "KvModel", "Linearizability", "QueueModel", "RegisterModel", "SetModel"
    ])
    expect(namesOf("concord-dist/mapreduce")).toEqual(["App", "Coordinator", "Messages", "Progress", "Scheduler", "Sequential", "Worker"])
  }, 60_000)

  it("declare each entry's types from the same module", () => {
    for (const [entry, target] of Object.entries(pkg.exports)) {
      if (typeof target === "string") continue
      const source = (file: string, ext: string) => join(root, "src", relative("dist", file.slice(0, -ext.length)) + ".ts")
      expect(source(target.types, ".d.ts"), entry).toBe(source(target.default, ".js"))
      expect(existsSync(source(target.default, ".js")), entry).toBe(true)
    }
  })

  it("keep the main one lean: it never loads KvNode, the HTTP API or the @effect/platform barrel", () => {
    // Every module reachable from src/index.ts through imports that stay at run time.
    const seen = new Set<string>()
    const packages = new Set<string>()
    const visit = (file: string) => {
      if (seen.has(file)) return
      seen.add(file)
      const text = readFileSync(file, "utf8")
      for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?(?:\{([^}]*)\}|\*(?:\s+as\s+\w+)?|\w+)?\s*(?:from\s+)?"([^"]+)"/gm)) {
        const [, typeOnly, names, spec] = m
        if (typeOnly !== undefined) continue
        if (names !== undefined && names.split(",").every((n) => n.trim() === "" || n.trim().startsWith("type "))) continue
        if (spec!.startsWith(".")) visit(resolve(dirname(file), spec!.replace(/\.js$/, ".ts")))
        else packages.add(spec!)
      }
    }
    visit(join(root, "src/index.ts"))
    const reached = [...seen].map((f) => relative(join(root, "src"), f))
    expect(reached).toContain("raft/Raft.ts")
    expect(reached.filter((f) => /kv\/(KvNode|HttpApi)\.ts$/.test(f))).toEqual([])
    expect([...packages].filter((p) => p === "@effect/platform" || p.startsWith("@effect/platform-node"))).toEqual([])
  })
})

describe("the concord command, installed", () => {
  it("npm i -g puts `concord` on the PATH, runnable from any directory", () => {
    // A package of package.json and a fresh CLI bundle (what `files` ships of dist/ for the command).
    const packageDir = join(dir, "package")
    mkdirSync(join(packageDir, "dist"), { recursive: true })
    writeFileSync(join(packageDir, "package.json"), JSON.stringify(pkg))
    const bundled = spawnSync(process.execPath, [join(root, "scripts/bundle-cli.mjs"), join(packageDir, "dist/concord.mjs")], { cwd: root, encoding: "utf8" })
    expect(bundled.status, bundled.stderr).toBe(0)
    const prefix = join(dir, "global")
    const installed = spawnSync("npm", ["install", "-g", "--prefix", prefix, "--offline", "--ignore-scripts", "--no-audit", "--no-fund", packageDir], {
      encoding: "utf8",
      timeout: 60_000
    })
    expect(installed.status, installed.stderr).toBe(0)
    const elsewhere = mkdtempSync(join(tmpdir(), "concord-elsewhere-"))
    try {
      const version = spawnSync(join(prefix, "bin/concord"), ["--version"], { cwd: elsewhere, encoding: "utf8", timeout: 30_000 })
      expect(version.stdout).toBe("0.1.0\n")
      const help = spawnSync(join(prefix, "bin/concord"), ["kv", "--help"], { cwd: elsewhere, encoding: "utf8", timeout: 30_000 })
      expect(help.stdout).toMatch(/^concord kv: the replicated key\/value service/)
    } finally {
      rmSync(elsewhere, { recursive: true, force: true })
    }
  }, 60_000)
})
