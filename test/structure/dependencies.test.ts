/**
 * The layering, checked at run time: what a module really pulls in when bundled, not only what its
 * folder suggests. The pure Raft core must stay a leaf: its own files and nothing else at run time
 * (it may name the wire classes' types, which erase), and client modules must not drag in the Raft
 * core or the storage.
 */
import { build } from "esbuild"
import { readdirSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

const root = path.resolve(__dirname, "../..")

/** Every input file of a bundle of `entry` (repository-relative for our sources). */
const inputsOf = async (entry: string): Promise<ReadonlyArray<string>> => {
  const result = await build({
    entryPoints: [path.join(root, entry)],
    bundle: true,
    write: false,
    metafile: true,
    platform: "node",
    format: "esm",
    logLevel: "silent",
    // The repository's sources import each other as ".js" (NodeNext resolution).
    plugins: [{
      name: "ts-for-js",
      setup: (b) => {
        b.onResolve({ filter: /^\.{1,2}\/.*\.js$/ }, (args) =>
          args.importer.includes("node_modules")
            ? undefined
            : { path: path.resolve(args.resolveDir, args.path.replace(/\.js$/, ".ts")) })
      }
    }]
  })
  return Object.keys(result.metafile!.inputs)
}

const ours = (inputs: ReadonlyArray<string>) => inputs.filter((f) => f.startsWith("src/"))
const packages = (inputs: ReadonlyArray<string>) =>
  [...new Set(inputs.filter((f) => f.includes("node_modules/")).map((f) => f.split("node_modules/").pop()!.split("/")[0]!))]

/** The import statements of one source file: specifier and the names it imports. */
const importsOf = (file: string) => {
  const text = readFileSync(path.join(root, file), "utf8")
  return [...text.matchAll(/^import\s+(type\s+)?(?:\{([^}]*)\}|\*\s+as\s+\w+|\w+)?\s*(?:from\s+)?"([^"]+)"/gm)].map((m) => ({
    typeOnly: m[1] !== undefined,
    specifier: m[3]!
  }))
}

describe("dependencies", () => {
  const coreFiles = readdirSync(path.join(root, "src/raft/core")).filter((f) => f.endsWith(".ts")).map((f) => `src/raft/core/${f}`)
  const inCore = (f: string) => f.startsWith("src/raft/core/")

  it("the pure Raft core bundles only its own files: no package, no rpc, storage or sim", async () => {
    const inputs = await inputsOf("src/raft/core/RaftCore.ts")
    expect(ours(inputs).filter((f) => !inCore(f))).toEqual([])
    expect(packages(inputs)).toEqual([])
    expect(coreFiles.length).toBeGreaterThan(3)
  }, 60_000)

  it("the core's modules import values only from the core; types also from the wire messages", () => {
    for (const file of coreFiles) {
      for (const imp of importsOf(file)) {
        const target = imp.specifier.startsWith(".")
          ? path.relative(root, path.resolve(path.dirname(path.join(root, file)), imp.specifier.replace(/\.js$/, ".ts")))
          : imp.specifier
        const ok = inCore(target) || (imp.typeOnly && (target === "src/raft/Messages.ts" || target === "effect"))
        expect(ok, `${file} imports ${imp.typeOnly ? "types from " : ""}${target}`).toBe(true)
      }
    }
  })

  it("client modules do not import the Raft core or the storage", async () => {
    for (const entry of ["src/kv/KvClient.ts", "src/kv/Messages.ts"]) {
      const inputs = ours(await inputsOf(entry))
      expect(inputs.filter((f) => f.startsWith("src/raft/core/RaftCore") || f.startsWith("src/storage/")), entry).toEqual([])
      expect(inputs).not.toContain("src/raft/Raft.ts")
    }
  }, 60_000)
})
