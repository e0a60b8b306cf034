/** Runs `concord` subcommands in process, capturing output and the exit code main.ts would use. */
import { type Command, ValidationError } from "@effect/cli"
import * as CliCommand from "@effect/cli/Command"
import { NodeContext } from "@effect/platform-node"
import { Cause, Effect, Exit, Option } from "effect"
import { vi } from "vitest"
import { ExitCode, exitCodeOf } from "../../src/cli/internal/exit.js"

/** A runner for a `concord` with the given subcommands. */
export const cliRunner = (...subcommands: ReadonlyArray<Command.Command<any, any, any, any>>) => {
  const concord = CliCommand.make("concord").pipe(CliCommand.withSubcommands(subcommands as any))
  const cli = CliCommand.run(concord, { name: "concord", version: "test" })
  return async (...args: ReadonlyArray<string>) => {
    const stdout: Array<string> = []
    const stderr: Array<string> = []
    vi.spyOn(console, "log").mockImplementation((...a: Array<unknown>) => void stdout.push(a.join(" ")))
    vi.spyOn(console, "error").mockImplementation((...a: Array<unknown>) => void stderr.push(a.join(" ")))
    const exit = await Effect.runPromiseExit((cli(["node", "concord", ...args]) as Effect.Effect<void, unknown, any>).pipe(
      Effect.provide(NodeContext.layer)
    ) as Effect.Effect<void, unknown>)
    vi.restoreAllMocks()
    let code: number
    if (Exit.isSuccess(exit)) code = 0
    else {
      const failure = Cause.failureOption(exit.cause)
      const carried = Option.isSome(failure) ? exitCodeOf(failure.value) : undefined
      if (carried !== undefined) code = carried
      else if (Option.isSome(failure) && ValidationError.isValidationError(failure.value)) code = ExitCode.BadInput
      else throw new Error(Cause.pretty(exit.cause))
    }
    return { code, stdout: stdout.join("\n"), stderr: stderr.join("\n") }
  }
}
