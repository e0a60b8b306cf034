import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Simulation tests run whole clusters for minutes of virtual time; their own time limits are in
    // simulated time (see test/support/Sim.ts). This is only a backstop against a hung process.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: "forks",
    reporters: ["default"]
  }
})
