#!/usr/bin/env node
/**
 * The `concord` command. Subcommands live in their own modules; add them to `subcommands`.
 *
 * Exit codes: a subcommand ends with a typed failure carrying `exitCode` (see `CliExit`) after
 * printing its own message; a flag or argument @effect/cli rejects is bad input (3, the code
 * `concord check` uses for bad input); Ctrl-C is 130; anything else is a bug: printed, exit 70.
 * @since 0.1.0
 */
import { Command, ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Effect, Exit, Logger, Option } from "effect"
import * as Check from "./check.js"
import * as Cluster from "./cluster.js"
import * as Demo from "./demo.js"
import * as Kv from "./kv.js"
import * as Mr from "./mr.js"

const subcommands = [Kv.command, Cluster.command, Demo.command, Check.command, Mr.command] as const

const concord = Command.make("concord").pipe(
  Command.withDescription(
    "Fault-tolerant distributed systems on Effect: Raft, KV, MapReduce, a linearizability checker"
  ),
  Command.withSubcommands(subcommands)
)

const hasExitCode = (e: unknown): e is { readonly exitCode: number } =>
  typeof e === "object" && e !== null && "exitCode" in e && typeof e.exitCode === "number"

// A server stopped by SIGTERM (a service manager, `kill`) has shut down cleanly: exit 0. Ctrl-C keeps
// the shell's convention, 130.
let terminated = false
process.once("SIGTERM", () => {
  terminated = true
})

const teardown = <E, A>(exit: Exit.Exit<A, E>, onExit: (code: number) => void): void => {
  if (Exit.isSuccess(exit)) return onExit(0)
  if (Cause.isInterruptedOnly(exit.cause)) return onExit(terminated ? 0 : 130)
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure) && hasExitCode(failure.value)) return onExit(failure.value.exitCode)
  // @effect/cli has already printed what was wrong with the command line.
  if (Option.isSome(failure) && ValidationError.isValidationError(failure.value)) return onExit(Check.ExitCode.BadInput)
  console.error(Cause.pretty(exit.cause))
  onExit(70)
}

// Logs are diagnostics: stderr, so that stdout carries only results (and `kv serve`'s listening line).
const logToStderr = Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))

Command.run(concord, { name: "concord", version: "0.1.0" })(process.argv).pipe(
  Effect.provide(NodeContext.layer),
  Effect.provide(logToStderr),
  NodeRuntime.runMain({ disableErrorReporting: true, teardown })
)
