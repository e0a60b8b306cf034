#!/usr/bin/env node
/**
 * The `concord` command. Subcommands live in their own modules; add them to `subcommands`.
 *
 * Exit codes (`internal/exit.ts`): a subcommand ends with a `CliExit` after printing its own message;
 * a flag or argument @effect/cli rejects is bad input (3); Ctrl-C is 130; anything else is a bug:
 * printed, exit 70.
 * @since 0.1.0
 */
import { Command, ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Effect, Exit, Logger, Option } from "effect"
import * as Check from "./check.js"
import * as Cluster from "./cluster.js"
import * as Demo from "./demo.js"
import { ExitCode, exitCodeOf } from "./internal/exit.js"
import * as Kv from "./kv.js"
import * as Mr from "./mr.js"

const subcommands = [Kv.command, Cluster.command, Demo.command, Check.command, Mr.command] as const

const concord = Command.make("concord").pipe(
  Command.withDescription(
    "Fault-tolerant distributed systems on Effect: Raft, KV, MapReduce, a linearizability checker"
  ),
  Command.withSubcommands(subcommands)
)

// A server stopped by SIGTERM (a service manager, `kill`) has shut down cleanly: exit 0. Ctrl-C keeps
// the shell's convention, 130.
let terminated = false
process.once("SIGTERM", () => {
  terminated = true
})

const teardown = <E, A>(exit: Exit.Exit<A, E>, onExit: (code: number) => void): void => {
  if (Exit.isSuccess(exit)) return onExit(ExitCode.Ok)
  if (Cause.isInterruptedOnly(exit.cause)) return onExit(terminated ? ExitCode.Ok : ExitCode.Interrupted)
  const failure = Cause.failureOption(exit.cause)
  const code = Option.isSome(failure) ? exitCodeOf(failure.value) : undefined
  if (code !== undefined) return onExit(code)
  // @effect/cli has already printed what was wrong with the command line.
  if (Option.isSome(failure) && ValidationError.isValidationError(failure.value)) return onExit(ExitCode.BadInput)
  console.error(Cause.pretty(exit.cause))
  onExit(ExitCode.Bug)
}

// Logs are diagnostics: stderr, so that stdout carries only results (and `kv serve`'s listening line).
const logToStderr = Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))

Command.run(concord, { name: "concord", version: "0.1.0" })(process.argv).pipe(
  Effect.provide(NodeContext.layer),
  Effect.provide(logToStderr),
  NodeRuntime.runMain({ disableErrorReporting: true, teardown })
)
