/** The CLI's shared pieces: duration flags, and the rule that command modules never import one another. */
import { Duration, Option } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { parseDuration } from "../../src/cli/internal/flags.js"

const cliDir = join(import.meta.dirname, "../../src/cli")

describe("the CLI's internals", () => {
  it("parses durations", () => {
    const millis = (text: string) => Option.map(parseDuration(text), Duration.toMillis)
    expect(millis("10s")).toEqual(Option.some(10_000))
    expect(millis("250ms")).toEqual(Option.some(250))
    expect(millis("1.5m")).toEqual(Option.some(90_000))
    expect(millis("2")).toEqual(Option.some(2000))
    expect(millis("1h")).toEqual(Option.some(3_600_000))
    expect(parseDuration("ten")).toEqual(Option.none())
  })

  it("command modules import internal/ and the library, never one another", () => {
    const commands = readdirSync(cliDir).filter((f) => f.endsWith(".ts") && f !== "main.ts")
    expect(commands.length).toBeGreaterThanOrEqual(5)
    for (const file of commands) {
      const source = readFileSync(join(cliDir, file), "utf8")
      const local = [...source.matchAll(/from "\.\/([^"]+)"/g)].map((m) => m[1]!)
      expect(local.filter((path) => !path.startsWith("internal/")), file).toEqual([])
    }
  })
})
