import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: {
    // examples/testing/ are files a user copies into their own project, so they import the package by
    // its name; here that name is the source (tsconfig.json's `paths` says the same to tsc), so the
    // examples test the code beside them and need no `npm run build`.
    alias: [{ find: /^concord-dist$/, replacement: fileURLToPath(new URL("./src/index.ts", import.meta.url)) }]
  },
  test: {
    include: ["test/**/*.test.ts", "examples/testing/**/*.test.ts"],
    // Simulation tests run whole clusters for minutes of virtual time; their own time limits are in
    // simulated time (see test/support/Sim.ts). This is only a backstop against a hung process.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: "forks",
    // vitest's default is one worker per core minus one: a single worker on the 2-core machines CI
    // uses. Much of the suite waits (real processes, their timers), so two files at a time finish the
    // suite in about 60% of the time; simulation tests only run slower in wall time, never differently.
    maxWorkers: 2,
    minWorkers: 1,
    reporters: ["default"]
  }
})
