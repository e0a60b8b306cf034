/**
 * The sequential runner (6.824 `mrsequential`): every map, then every reduce in sorted key order, in
 * one fiber, writing one output file. It is the reference the distributed runs are compared with
 * (sorted, the outputs must be equal), so it shares none of the distributed path beyond calling the
 * app: no partitioning, no combiner, no intermediate files.
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { Effect } from "effect"
import { type App, AppError, MrEnv, type MrEnvShape } from "./App.js"
import * as Files from "./internal/files.js"
import { callApp, type TaskError } from "./internal/tasks.js"
import { compareStrings } from "./internal/text.js"

export interface SequentialOptions {
  readonly app: App
  readonly inputs: ReadonlyArray<string>
  /** Directory of the output file. Default `.`. */
  readonly dir?: string
  /** Output file name. Default `mr-out-0`. */
  readonly output?: string
  /** Worker id the app sees (`MrEnv.workerId`). Default `sequential`. */
  readonly workerId?: string
  /** What `MrEnv.crash` does (the CLI exits the process). Default: a defect. */
  readonly crash?: Effect.Effect<never>
}

export interface SequentialResult {
  /** Path of the output file. */
  readonly output: string
  /** Output lines (distinct keys). */
  readonly lines: number
  readonly inputBytes: number
  /** User counters the app incremented. */
  readonly counters: Readonly<Record<string, number>>
}

const decoder = new TextDecoder()
const encoder = new TextEncoder()

export const run = (options: SequentialOptions): Effect.Effect<SequentialResult, TaskError, FileSystem.FileSystem> =>
  Effect.suspend(() => {
    const dir = options.dir ?? "."
    const counters: Record<string, number> = {}
    const env: MrEnvShape = {
      workerId: options.workerId ?? "sequential",
      dir,
      isAlive: () => Effect.succeed(true),
      crash: options.crash ?? Effect.die(new Error("the app crashed the sequential runner")),
      count: (name, delta) => Effect.sync(() => void (counters[name] = (counters[name] ?? 0) + delta))
    }
    return Effect.provideService(body(options, dir, env, counters), MrEnv, env)
  })

const body = (options: SequentialOptions, dir: string, env: MrEnvShape, counters: Readonly<Record<string, number>>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const { app } = options
    const groups = new Map<string, Array<string>>()
    let inputBytes = 0
    for (const file of options.inputs) {
      const bytes = yield* fs.readFile(file)
      inputBytes += bytes.length
      const contents = decoder.decode(bytes)
      const pairs = yield* callApp(app, "map", file, () => app.map(file, contents))
      for (const { key, value } of pairs) {
        if (typeof key !== "string" || typeof value !== "string") {
          const cause = new Error("map must emit pairs {key, value} of strings")
          return yield* new AppError({ app: app.name, fn: "map", subject: file, cause })
        }
        const list = groups.get(key)
        if (list === undefined) groups.set(key, [value])
        else list.push(value)
      }
    }
    const keys = [...groups.keys()].sort(compareStrings)
    const lines: Array<string> = []
    for (const key of keys) {
      const values = groups.get(key)!
      const value = yield* callApp(app, "reduce", key, () => app.reduce(key, values))
      if (typeof value !== "string") {
        const cause = new Error(`reduce must return a string, got ${typeof value}`)
        return yield* new AppError({ app: app.name, fn: "reduce", subject: key, cause })
      }
      lines.push(`${key} ${value}\n`)
    }
    const output = options.output ?? "mr-out-0"
    yield* fs.makeDirectory(dir, { recursive: true })
    yield* Files.writeAtomic(fs, dir, output, [encoder.encode(lines.join(""))], Files.tempName(env.workerId, 0, output))
    return { output: Files.join(dir, output), lines: keys.length, inputBytes, counters } satisfies SequentialResult
  })
