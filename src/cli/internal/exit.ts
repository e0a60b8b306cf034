/**
 * How every `concord` command ends: one exit-code table, one typed failure carrying the code, and one
 * helper that prints the one-line error (`concord <command>: <message>` on stderr) and fails with it.
 * `main.ts` turns the failure into the process's exit code.
 * @internal
 */
import { Cause, Console, Data, Effect, Exit, Option } from "effect"

/** The process exit codes of every command. */
export const ExitCode = {
  /** Done (`check`: linearizable). */
  Ok: 0,
  /** The operation could not be done (`check`: not linearizable). */
  Failed: 1,
  /** `check`: a budget ran out before the answer was known. */
  Unknown: 2,
  /** Bad input: a bad flag or argument, an unreadable or malformed file. */
  BadInput: 3,
  /** A bug: an unexpected failure, printed in full. */
  Bug: 70,
  /** Ctrl-C (the shell's convention, 128 + SIGINT). */
  Interrupted: 130
} as const

/** Ends a command with a process exit code, after the command has printed why. */
export class CliExit extends Data.TaggedError("CliExit")<{ readonly exitCode: number }> {}

/** Prints `concord <command>: <message>` on stderr and ends the command with `exitCode`. */
export const fail = (command: string, exitCode: number, message: string) =>
  Console.error(`concord${command === "" ? "" : ` ${command}`}: ${message}`).pipe(
    Effect.zipRight(new CliExit({ exitCode }))
  )

/** Ends the command with `exitCode` without a message (its output already said why). */
export const exitWith = (exitCode: number) => Effect.fail(new CliExit({ exitCode }))

/** The exit code of a command's outcome: 0, or the code its `CliExit` carries; undefined for anything else. */
export const exitCodeOf = (exit: Exit.Exit<unknown, unknown>): number | undefined => {
  if (Exit.isSuccess(exit)) return ExitCode.Ok
  const failure = Cause.failureOption(exit.cause)
  return Option.isSome(failure) && failure.value instanceof CliExit ? failure.value.exitCode : undefined
}
