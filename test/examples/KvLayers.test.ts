/** The README's KvClient program runs unchanged over both Layers (examples/kv-two-layers.ts). */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { runReal, runSimulated } from "../../examples/kv-two-layers.js"

describe("KvClient over either Layer", () => {
  it("a simulated cluster, seeded: the same seed gives the same run", async () => {
    const a = await runSimulated(7)
    const b = await runSimulated(7)
    expect(a.value).toBe("hello, world")
    expect(b.stats.simulatedMs).toBe(a.stats.simulatedMs)
  })

  it("a real cluster over loopback TCP with file storage", async () => {
    expect(await Effect.runPromise(runReal)).toBe("hello, world")
  }, 30_000)
})
