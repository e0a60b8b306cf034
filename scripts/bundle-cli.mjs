// Bundles the `concord` CLI into one ES module (dist/concord.mjs), run by `npm run build` / `prepare`.
// Why: loading effect, @effect/cli and @effect/platform-node from hundreds of files takes ~0.7 s per
// process; one bundled file loads in ~0.2 s. Every CLI call pays this, and `concord mr run` and
// `concord cluster up` start several processes.
import { build } from "esbuild"

await build({
  entryPoints: ["src/cli/main.ts"],
  outfile: process.argv[2] ?? "dist/concord.mjs",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  sourcemap: true,
  logLevel: "warning",
  // Optional native accelerators, loaded with require() inside try/catch when present.
  external: ["msgpackr-extract", "@parcel/watcher"],
  // Bundled CommonJS dependencies (msgpackr) call require(): give the ES module one.
  banner: { js: "import { createRequire as __concordRequire } from 'node:module'; const require = __concordRequire(import.meta.url);" }
})
