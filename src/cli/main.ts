#!/usr/bin/env node
/**
 * The `concord` command. Subcommands live in their own modules; add them to `subcommands`.
 *
 * Exit codes (`internal/exit.ts`): a command ends with a `CliExit` after printing its own one-line
 * message, and so does a command line that is wrong (3, see `internal/app.ts`); Ctrl-C is 130,
 * SIGTERM 0; anything else is a bug: printed in full, exit 70.
 * @since 0.1.0
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Effect, Exit, Logger } from "effect"
import * as Bound from "../internal/metrics.js"
import * as Certs from "./certs.js"
import * as Check from "./check.js"
import * as Cluster from "./cluster.js"
import * as Demo from "./demo.js"
import * as App from "./internal/app.js"
import { ExitCode, exitCodeOf } from "./internal/exit.js"
import * as Kv from "./kv.js"
import * as Mr from "./mr.js"
import * as Shard from "./shard.js"

const concord = App.make({
  description:
    "fault-tolerant distributed systems on Effect: Raft, a key/value store, a sharded key/value store, MapReduce, a linearizability checker",
  version: "0.1.0",
  subcommands: [Kv.command, Cluster.command, Shard.command, Demo.command, Check.command, Mr.command, Certs.command]
})

// A server stopped by SIGTERM (a service manager, `kill`) has shut down cleanly: exit 0. Ctrl-C keeps
// the shell's convention, 130.
let terminated = false
process.once("SIGTERM", () => {
  terminated = true
})

const teardown = <E, A>(exit: Exit.Exit<A, E>, onExit: (code: number) => void): void => {
  if (Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)) {
    return onExit(terminated ? ExitCode.Ok : ExitCode.Interrupted)
  }
  const code = exitCodeOf(exit)
  if (code !== undefined) return onExit(code)
  if (Exit.isFailure(exit)) console.error(Cause.pretty(exit.cause))
  onExit(ExitCode.Bug)
}

// Logs are diagnostics: stderr, so that stdout carries only results (and `kv serve`'s listening line).
const logToStderr = Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))

concord.run(process.argv).pipe(
  Bound.withoutFiberMetrics,
  Effect.provide(NodeContext.layer),
  Effect.provide(logToStderr),
  NodeRuntime.runMain({ disableErrorReporting: true, teardown })
)
