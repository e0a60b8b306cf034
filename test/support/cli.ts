/** Runs `concord` subcommands in process, capturing output and the exit code main.ts would use. */
import type { Command } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { Cause, Effect } from "effect"
import { vi } from "vitest"
import * as App from "../../src/cli/internal/app.js"
import { exitCodeOf } from "../../src/cli/internal/exit.js"

/** A runner for a `concord` with the given subcommands. */
export const cliRunner = (...subcommands: readonly [Command.Command<any, any, any, any>, ...Array<Command.Command<any, any, any, any>>]) => {
  const cli = App.make({ description: "test", version: "test", subcommands })
  return async (...args: ReadonlyArray<string>) => {
    const stdout: Array<string> = []
    const stderr: Array<string> = []
    vi.spyOn(console, "log").mockImplementation((...a: Array<unknown>) => void stdout.push(a.join(" ")))
    vi.spyOn(console, "error").mockImplementation((...a: Array<unknown>) => void stderr.push(a.join(" ")))
    const exit = await Effect.runPromiseExit((cli.run(["node", "concord", ...args]) as Effect.Effect<void, unknown, any>).pipe(
      Effect.provide(NodeContext.layer)
    ) as Effect.Effect<void, unknown>)
    vi.restoreAllMocks()
    const code = exitCodeOf(exit)
    if (code === undefined) throw new Error(exit._tag === "Failure" ? Cause.pretty(exit.cause) : "no exit code")
    return { code, stdout: stdout.join("\n"), stderr: stderr.join("\n") }
  }
}
