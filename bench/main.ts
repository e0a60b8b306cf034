/**
 * `npm run bench -- <name> [args]`: runs bench/<name>.ts (each exports `run(args)`), or every
 * benchmark when no name is given. Benchmarks print ratios against a reference measured in the same
 * run; they never pass or fail on wall-clock time.
 */
import { readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const available = readdirSync(here)
  .filter((f) => f.endsWith(".ts") && f !== "main.ts" && !f.startsWith("_"))
  .map((f) => f.slice(0, -3))
  .sort()

const [name, ...args] = process.argv.slice(2)
if (name !== undefined && !available.includes(name)) {
  console.error(`unknown benchmark "${name}"; available: ${available.join(", ")}`)
  process.exit(2)
}
for (const bench of name === undefined ? available : [name]) {
  const mod = (await import(join(here, `${bench}.ts`))) as { run: (args: ReadonlyArray<string>) => Promise<void> }
  console.log(`\n=== bench ${bench} ===`)
  await mod.run(args)
}
