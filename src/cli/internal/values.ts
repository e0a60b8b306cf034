/**
 * The KEY and VALUE of the client verbs (`kv put`, `shard put`, ...): a value from the argument, stdin
 * (`-`) or `--file`, within the key/value limits and UTF-8, checked before anything is sent.
 * @internal
 */
import { Args, Options } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import { Effect, Option } from "effect"
import * as Limits from "../../kv/Limits.js"
import { ExitCode, fail } from "./exit.js"
import { reason } from "./flags.js"

export const keyArg = Args.text({ name: "key" }).pipe(Args.withDescription("the key"))
export const valueArg = Args.text({ name: "value" }).pipe(
  Args.withDescription("the value; - reads it from stdin (as is: a trailing newline is kept)"),
  Args.optional
)
export const fileOption = Options.text("file").pipe(
  Options.withPseudoName("PATH"),
  Options.optional,
  Options.withDescription("read the value from this file (as is), instead of the VALUE argument")
)

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** All of stdin, or `undefined` once it passes `limit` bytes. */
const readStdin = (limit: number) =>
  Effect.async<Uint8Array | undefined>((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        cleanup()
        resume(Effect.succeed(undefined))
      } else chunks.push(chunk)
    }
    const onEnd = () => {
      cleanup()
      resume(Effect.succeed(Buffer.concat(chunks)))
    }
    const cleanup = () => {
      process.stdin.off("data", onData).off("end", onEnd)
      process.stdin.pause()
    }
    process.stdin.on("data", onData).once("end", onEnd)
    return Effect.sync(cleanup)
  })

/** The value of `put`/`append`: the argument, stdin (`-`) or `--file`, at most Limits.defaults.maxValueBytes of UTF-8 text. */
export const readValue = (command: string, arg: Option.Option<string>, file: Option.Option<string>) =>
  Effect.gen(function*() {
    const bad = (message: string) => fail(command, ExitCode.BadInput, message)
    const tooLarge = (what: string, size: number | undefined) =>
      bad(`${what} is ${size === undefined ? "" : `${size} bytes, `}over the limit of ${Limits.defaults.maxValueBytes} bytes (1 MiB)`)
    if (Option.isSome(arg) && Option.isSome(file)) return yield* bad("give the value as VALUE or with --file, not both")
    if (Option.isNone(arg) && Option.isNone(file)) {
      return yield* bad("missing the value: give VALUE, - (stdin) or --file PATH")
    }
    let bytes: Uint8Array
    let what: string
    if (Option.isSome(file)) {
      what = file.value
      const fs = yield* FileSystem.FileSystem
      const info = yield* fs.stat(what).pipe(Effect.catchAll((e) => bad(`cannot read ${what}: ${reason(e)}`)))
      if (info.type !== "File") return yield* bad(`${what} is not a file`)
      if (Number(info.size) > Limits.defaults.maxValueBytes) return yield* tooLarge(what, Number(info.size))
      bytes = yield* fs.readFile(what).pipe(Effect.catchAll((e) => bad(`cannot read ${what}: ${reason(e)}`)))
    } else if (Option.getOrThrow(arg) === "-") {
      what = "the value on stdin"
      const read = yield* readStdin(Limits.defaults.maxValueBytes)
      if (read === undefined) return yield* tooLarge(what, undefined)
      bytes = read
    } else {
      what = "the value"
      bytes = new TextEncoder().encode(Option.getOrThrow(arg))
    }
    if (bytes.length > Limits.defaults.maxValueBytes) return yield* tooLarge(what, bytes.length)
    try {
      return utf8.decode(bytes)
    } catch {
      return yield* bad(`${what} is not UTF-8 text (values are strings)`)
    }
  })

