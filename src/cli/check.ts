/**
 * `concord check [--model kv] [--timeout 10s] [--max-steps N] [--html out.html] HISTORY.jsonl`
 *
 * Checks a recorded history for linearizability. The file has one operation per line (see
 * `Kv.decodeJsonl`). Exit codes: 0 linearizable, 1 not linearizable (the first illegal partition and
 * where it fails are printed), 2 unknown (a budget ran out), 3 bad input (unreadable file, a bad line,
 * a bad flag; the message names the line).
 * @since 0.1.0
 */
import { Args, Command, Options } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import { Console, type Duration, Effect, Either, Option } from "effect"
import * as HtmlView from "../check/HtmlView.js"
import * as Linearizability from "../check/Linearizability.js"
import * as Kv from "../check/models/Kv.js"
import { ExitCode, exitWith, fail } from "./internal/exit.js"
import { durationOption, integerOption, reason } from "./internal/flags.js"

const models = { kv: Kv.model } as const

const model = Options.choice("model", ["kv"]).pipe(
  Options.withDefault("kv" as const),
  Options.withDescription("the model to check against (kv: 6.824 Get/Put/Append, partitioned by key)")
)
const timeout = durationOption(
  "timeout",
  "10s",
  "wall-clock budget of the search, e.g. 10s, 500ms, 2m; then the answer is unknown (exit 2)"
)
const maxSteps = integerOption("max-steps", {
  min: 1,
  placeholder: "STEPS",
  description: "also stop after this many search steps (a deterministic budget)"
})
const html = Options.text("html").pipe(
  Options.withPseudoName("FILE"),
  Options.optional,
  Options.withDescription("write a self-contained HTML view of the history and the result to this file")
)
const historyFile = Args.text({ name: "HISTORY.jsonl" }).pipe(
  Args.withDescription("one operation per line: {client, op, key, value?, output?, call, return?}")
)

const badInput = (message: string) => fail("check", ExitCode.BadInput, message)

const run = (args: {
  readonly model: keyof typeof models
  readonly timeout: Duration.Duration
  readonly maxSteps: Option.Option<number>
  readonly html: Option.Option<string>
  readonly history: string
}) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(args.history).pipe(
      Effect.catchAll((e) => badInput(`cannot read ${args.history}: ${reason(e)}`))
    )
    const decoded = Kv.decodeJsonl(text)
    if (Either.isLeft(decoded)) return yield* badInput(`${args.history} ${decoded.left.message}`)
    const history = decoded.right
    const m = models[args.model]
    const result = yield* Linearizability.check(m, history, {
      timeout: args.timeout,
      ...(Option.isSome(args.maxSteps) ? { maxSteps: args.maxSteps.value } : {})
    }).pipe(Effect.catchTag("HistoryError", (e) => badInput(`${args.history}: ${e.message}`)))
    yield* Console.log(Linearizability.explain(m, history, result))
    if (Option.isSome(args.html)) {
      const path = args.html.value
      yield* HtmlView.writeFile(path, m, history, result, { title: `concord check ${args.history}` }).pipe(
        Effect.catchAll((e) => badInput(`cannot write ${path}: ${reason(e)}`))
      )
      yield* Console.log(`wrote ${path}`)
    }
    switch (result._tag) {
      case "Ok":
        return
      case "Illegal":
        return yield* exitWith(ExitCode.Failed)
      case "Unknown":
        return yield* exitWith(ExitCode.Unknown)
    }
  })

/** The `check` subcommand. */
export const command = Command.make(
  "check",
  { model, timeout, maxSteps, html, history: historyFile },
  run
).pipe(
  Command.withDescription(
    "Check a history (JSON Lines) for linearizability. " +
      "Exit 0 linearizable, 1 not linearizable, 2 unknown (timeout), 3 bad input."
  )
)
