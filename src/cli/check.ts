/**
 * `concord check [--model kv|register|queue|set] [--search auto|pruned|plain] [--timeout 10s] [--max-steps N]
 *   [--html out.html] HISTORY.jsonl…`
 *
 * Checks recorded histories for linearizability, each file on its own. A file has one operation per
 * line, in the model's format (see each model's `decodeJsonl`). Exit codes: 0 linearizable, 1 not
 * linearizable (the first illegal partition and where it fails are printed), 2 unknown (a budget ran
 * out), 3 bad input (unreadable file, a bad line, a bad flag; the message names the line); with several
 * files, the worst of theirs (3 worst, then 2, then 1).
 * @since 0.1.0
 */
import { Args, Command, Options } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import { Console, type Duration, Effect, type Either, Option } from "effect"
import { basename, extname } from "node:path"
import type { History } from "../check/History.js"
import * as HtmlView from "../check/HtmlView.js"
import type { JsonlError } from "../check/internal/jsonl.js"
import * as Linearizability from "../check/Linearizability.js"
import type { Model } from "../check/Model.js"
import * as Kv from "../check/models/Kv.js"
import * as Queue from "../check/models/Queue.js"
import * as Register from "../check/models/Register.js"
import * as SetModel from "../check/models/Set.js"
import { ExitCode, exitWith } from "./internal/exit.js"
import { choiceOption, durationOption, integerOption, reason } from "./internal/flags.js"

interface Flags {
  readonly search: Linearizability.SearchMode
  readonly timeout: Duration.Duration
  readonly maxSteps: Option.Option<number>
}

/** Checks one file against a model and prints its verdict: the file's exit code. */
type Checker = (
  file: string,
  text: string,
  flags: Flags,
  print: (text: string) => Effect.Effect<void>,
  html: string | undefined
) => Effect.Effect<number, never, FileSystem.FileSystem>

// Reported, not failed: one bad file does not hide the verdicts of the others.
const bad = (message: string) => Effect.as(Console.error(`concord check: ${message}`), ExitCode.BadInput)

const checker = <S, I, O>(
  model: Model<S, I, O>,
  decode: (text: string) => Either.Either<History<I, O>, JsonlError>
): Checker =>
(file, text, flags, print, html) =>
  Effect.gen(function*() {
    const decoded = decode(text)
    if (decoded._tag === "Left") return yield* bad(`${file} ${decoded.left.message}`)
    const history = decoded.right
    const result = yield* Linearizability.check(model, history, {
      timeout: flags.timeout,
      search: flags.search,
      ...(Option.isSome(flags.maxSteps) ? { maxSteps: flags.maxSteps.value } : {})
    }).pipe(Effect.either)
    if (result._tag === "Left") return yield* bad(`${file}: ${result.left.message}`)
    yield* print(Linearizability.explain(model, history, result.right))
    if (html !== undefined) {
      const title = `concord check ${file}`
      const written = yield* Effect.either(HtmlView.writeFile(html, model, history, result.right, { title }))
      if (written._tag === "Left") return yield* bad(`cannot write ${html}: ${reason(written.left)}`)
      yield* Console.log(`wrote ${html}`)
    }
    const verdict = result.right._tag
    return verdict === "Ok" ? ExitCode.Ok : verdict === "Illegal" ? ExitCode.Failed : ExitCode.Unknown
  })

const models = {
  kv: checker(Kv.model, Kv.decodeJsonl),
  register: checker(Register.model, Register.decodeJsonl),
  queue: checker(Queue.model, Queue.decodeJsonl),
  set: checker(SetModel.model, SetModel.decodeJsonl)
} as const

const model = choiceOption(
  "model",
  ["kv", "register", "queue", "set"],
  "kv",
  "what the history is of: kv (6.824 Get/Put/Append, by key), register (read/write/cas of a number, initially 0), " +
    "queue (enqueue/dequeue of numbers), set (add/remove/contains/take of strings); README lists each file format"
)
const search = choiceOption(
  "search",
  ["auto", "pruned", "plain"],
  "auto",
  "the search: plain (Porcupine's), pruned (plus the model's pruning rules: the same verdicts, decided far " +
    "sooner on hot keys; kv has them), auto (plain first, then pruned for a partition it does not decide quickly)"
)
const timeout = durationOption(
  "timeout",
  "10s",
  "wall-clock budget of the search, per file, e.g. 10s, 500ms, 2m; then the answer is unknown (exit 2)"
)
const maxSteps = integerOption("max-steps", {
  min: 1,
  placeholder: "STEPS",
  description: "also stop after this many search steps (a deterministic budget)"
})
const html = Options.text("html").pipe(
  Options.withPseudoName("FILE"),
  Options.optional,
  Options.withDescription(
    "write a self-contained HTML view of the history and the result to this file; with several histories, " +
      "one view each, FILE's name followed by -<history name> (v.html: v-a.html, v-b.html)"
  )
)
const historyFiles = Args.text({ name: "HISTORY.jsonl" }).pipe(
  Args.atLeast(1),
  Args.withDescription("one operation per line, e.g. for kv {client, op, key, value?, output?, call, return?}")
)

/** Where the HTML view of `history` goes: `html` itself for one history, else one file per history. */
const htmlFor = (html: string, history: string, several: boolean) => {
  if (!several) return html
  const ext = extname(html) || ".html"
  const base = html.endsWith(ext) ? html.slice(0, -ext.length) : html
  return `${base}-${basename(history, extname(history))}${ext}`
}

const run = (args: Flags & {
  readonly model: keyof typeof models
  readonly html: Option.Option<string>
  readonly histories: ReadonlyArray<string>
}) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const several = args.histories.length > 1
    let worst: number = ExitCode.Ok
    for (const file of args.histories) {
      const text = yield* fs.readFileString(file).pipe(Effect.either)
      // One verdict line per file: with several, each verdict's first line begins with its file's name.
      const print = (verdict: string) => Console.log(several ? `${file}: ${verdict}` : verdict)
      const code = text._tag === "Left"
        ? yield* bad(`cannot read ${file}: ${reason(text.left)}`)
        : yield* models[args.model](
          file,
          text.right,
          args,
          print,
          Option.isSome(args.html) ? htmlFor(args.html.value, file, several) : undefined
        )
      // The codes rank as their numbers do: 3 bad input, 2 unknown, 1 not linearizable, 0 linearizable.
      worst = Math.max(worst, code)
    }
    if (worst !== ExitCode.Ok) return yield* exitWith(worst)
  })

/** The `check` subcommand. */
export const command = Command.make("check", { model, search, timeout, maxSteps, html, histories: historyFiles }, run).pipe(
  Command.withDescription(
    "check histories (JSON Lines) for linearizability: exit 0 linearizable, 1 not, 2 unknown (a budget ran out), " +
      "3 bad input; with several files, the worst"
  )
)
