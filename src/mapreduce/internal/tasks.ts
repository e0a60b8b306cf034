/**
 * Running one map or one reduce task: the work a worker does between asking and reporting.
 *
 * Map: read the input, call `map`, split the pairs by partition, combine each partition if the app
 * has a combiner, and write one intermediate file per reduce task. Reduce: read that task's
 * intermediate file from every map task, group the values by key, call `reduce` per key in sorted key
 * order, and write `mr-out-<r>` as `key value` lines. Every file goes through `writeAtomic`.
 *
 * App functions are called directly and only wrapped in an Effect when they return one (or a
 * Promise): a reduce over tens of thousands of keys must not build an Effect per key.
 * @internal
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type { PlatformError } from "@effect/platform/Error"
import { Cause, Effect, Either, Predicate } from "effect"
import type { DecodeError } from "../../codec/Codec.js"
import { type App, AppError, type AppResult, MrEnv, type MrEnvShape } from "../App.js"
import * as Files from "./files.js"
import * as Intermediate from "./intermediate.js"
import { compareStrings, ihash } from "./text.js"

/** Why an attempt failed: the app's code, a file operation, or an undecodable intermediate file. */
export type TaskError = AppError | PlatformError | DecodeError

/** Where and as whom a task runs. */
export interface TaskContext {
  readonly app: App
  readonly dir: string
  readonly env: MrEnvShape
  /** Attempt id (for temporary file names). */
  readonly attempt: number
  /** Output files are written in chunks of about this many characters. */
  readonly writeChunkChars: number
}

const decoder = new TextDecoder()
const encoder = new TextEncoder()
const EMPTY = new Uint8Array(0)
/** File operations of one task in flight at once. */
const IO_CONCURRENCY = 8

/** Wraps an app result that is an Effect or a Promise; the caller handles plain values itself. */
export const liftAsync = <A>(
  app: App,
  fn: string,
  subject: string,
  result: AppResult<A>
): Effect.Effect<A, AppError, MrEnv | FileSystem.FileSystem> => {
  const wrap = (cause: unknown) => new AppError({ app: app.name, fn, subject, cause })
  if (Effect.isEffect(result)) {
    const eff = result as Effect.Effect<A, unknown, MrEnv | FileSystem.FileSystem>
    // Typed failures and defects of the app become AppError; an interruption (a simulated crash)
    // passes through and ends the worker.
    return eff.pipe(
      Effect.catchAllCause((cause) => {
        if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
        return Effect.fail(wrap(Cause.squash(cause)))
      })
    )
  }
  if (Predicate.isPromiseLike(result)) return Effect.tryPromise({ try: () => result as PromiseLike<A>, catch: wrap })
  return Effect.succeed(result as A)
}

const isAsync = (r: unknown): boolean => Effect.isEffect(r) || Predicate.isPromiseLike(r)

/** Calls `f`, turning a throw into an AppError. */
const call = <A>(app: App, fn: string, subject: string, f: () => A): Either.Either<A, AppError> => {
  try {
    return Either.right(f())
  } catch (cause) {
    return Either.left(new AppError({ app: app.name, fn, subject, cause }))
  }
}

/** Calls an app function that returns an `AppResult`, with the fast path for plain values. */
export const callApp = <A>(
  app: App,
  fn: string,
  subject: string,
  f: () => AppResult<A>
): Effect.Effect<A, AppError, MrEnv | FileSystem.FileSystem> => {
  const r = call(app, fn, subject, f)
  if (Either.isLeft(r)) return Effect.fail(r.left)
  return isAsync(r.right) ? liftAsync(app, fn, subject, r.right) : Effect.succeed(r.right as A)
}

const appError = (app: App, fn: string, subject: string, message: string) =>
  new AppError({ app: app.name, fn, subject, cause: new Error(message) })

/** Calls `reduce` or `combine` for every key of `groups` in `keys` order; `onValue` gets each result. */
const reduceKeys = (
  app: App,
  fn: "reduce" | "combine",
  f: (key: string, values: ReadonlyArray<string>) => AppResult<string>,
  keys: ReadonlyArray<string>,
  groups: ReadonlyMap<string, Array<string>>,
  onValue: (key: string, value: string) => void
): Effect.Effect<void, AppError, MrEnv | FileSystem.FileSystem> =>
  Effect.gen(function*() {
    for (const key of keys) {
      const values = groups.get(key)!
      if (fn === "combine" && values.length === 1) {
        onValue(key, values[0]!)
        continue
      }
      const r = call(app, fn, key, () => f(key, values))
      if (Either.isLeft(r)) return yield* r.left
      const value = isAsync(r.right) ? yield* liftAsync(app, fn, key, r.right) : r.right
      if (typeof value !== "string") {
        return yield* appError(app, fn, key, `${fn} must return a string, got ${typeof value}`)
      }
      onValue(key, value)
    }
  })

/** Groups flat `[k, v, k, v, ...]` pairs into `groups`, keeping value order. */
const groupInto = (groups: Map<string, Array<string>>, flat: ReadonlyArray<string>) => {
  for (let i = 0; i < flat.length; i += 2) {
    const key = flat[i]!
    const list = groups.get(key)
    if (list === undefined) groups.set(key, [flat[i + 1]!])
    else list.push(flat[i + 1]!)
  }
}

/** Splits map output into per-reduce-task flat arrays. */
export const partitionPairs = (
  app: App,
  file: string,
  pairs: Iterable<{ readonly key: string; readonly value: string }>,
  nReduce: number
): Either.Either<{ readonly buckets: Array<Array<string>>; readonly records: number }, AppError> => {
  const buckets: Array<Array<string>> = Array.from({ length: nReduce }, () => [])
  const partition = app.partition
  let records = 0
  const add = (kv: { readonly key: string; readonly value: string }): AppError | undefined => {
    const key = kv.key
    const value = kv.value
    if (typeof key !== "string" || typeof value !== "string") {
      return appError(app, "map", file, "map must emit pairs {key, value} of strings")
    }
    let r: number
    if (partition === undefined) r = ihash(key) % nReduce
    else {
      r = partition(key, nReduce)
      if (!Number.isInteger(r) || r < 0 || r >= nReduce) {
        return appError(app, "partition", key, `partition returned ${r}, not an integer in [0, ${nReduce})`)
      }
    }
    buckets[r]!.push(key, value)
    records++
    return undefined
  }
  try {
    if (Array.isArray(pairs)) {
      // An index loop: the array iterator costs more than the rest of the loop body here.
      const list = pairs as ReadonlyArray<{ readonly key: string; readonly value: string }>
      for (let i = 0; i < list.length; i++) {
        const e = add(list[i]!)
        if (e !== undefined) return Either.left(e)
      }
    } else {
      for (const kv of pairs) {
        const e = add(kv)
        if (e !== undefined) return Either.left(e)
      }
    }
  } catch (cause) {
    const fn = partition === undefined ? "map" : "partition"
    return Either.left(new AppError({ app: app.name, fn, subject: file, cause }))
  }
  return Either.right({ buckets, records })
}

/**
 * Applies the combiner to one partition's pairs: one pair per key, in first-seen order. Keys seen once
 * (all of them, when the map already aggregates, as wc does) cost one Map entry and no call.
 */
const combineBucket = (
  app: App,
  combine: NonNullable<App["combine"]>,
  flat: ReadonlyArray<string>
): Effect.Effect<Array<string>, AppError, MrEnv | FileSystem.FileSystem> =>
  Effect.suspend(() => {
    const out: Array<string> = []
    const position = new Map<string, number>()
    let repeated: Map<string, Array<string>> | undefined
    for (let i = 0; i < flat.length; i += 2) {
      const key = flat[i]!
      const at = position.get(key)
      if (at === undefined) {
        position.set(key, out.length + 1)
        out.push(key, flat[i + 1]!)
        continue
      }
      repeated ??= new Map()
      const list = repeated.get(key)
      if (list === undefined) repeated.set(key, [out[at]!, flat[i + 1]!])
      else list.push(flat[i + 1]!)
    }
    if (repeated === undefined) return Effect.succeed(out)
    const groups = repeated
    return Effect.as(
      reduceKeys(app, "combine", combine, [...groups.keys()], groups, (k, v) => void (out[position.get(k)!] = v)),
      out
    )
  })

/** Runs map task `index` over `file`; returns the task's framework statistics. */
export const runMap = (
  ctx: TaskContext,
  index: number,
  file: string,
  nReduce: number
): Effect.Effect<Record<string, number>, TaskError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const { app } = ctx
    const bytes = yield* fs.readFile(file)
    const contents = decoder.decode(bytes)
    const pairs = yield* callApp(app, "map", file, () => app.map(file, contents))
    if (pairs === null || typeof pairs !== "object" || !(Symbol.iterator in pairs)) {
      return yield* appError(app, "map", file, "map must return an array (or iterable) of {key, value} pairs")
    }
    const split = partitionPairs(app, file, pairs, nReduce)
    if (Either.isLeft(split)) return yield* split.left
    let { buckets } = split.right
    const stats: Record<string, number> = {
      "map.input.bytes": bytes.length,
      "map.output.records": split.right.records
    }
    if (app.combine !== undefined) {
      const combine = app.combine
      const combined: Array<Array<string>> = []
      let records = 0
      for (const flat of buckets) {
        const out = yield* combineBucket(app, combine, flat)
        combined.push(out)
        records += out.length / 2
      }
      buckets = combined
      stats["combine.output.records"] = records
    }
    let written = 0
    // The files are independent: write them concurrently (the renames are what make each visible).
    yield* Effect.forEach(buckets, (bucket, r) => {
      const data = Intermediate.encode(bucket)
      written += data.length
      const name = Files.intermediateName(index, r)
      return Files.writeAtomic(fs, ctx.dir, name, [data], Files.tempName(ctx.env.workerId, ctx.attempt, name))
    }, { concurrency: IO_CONCURRENCY, discard: true })
    stats["map.output.bytes"] = written
    return stats
  }).pipe(Effect.provideService(MrEnv, ctx.env))

/** Formats reduce output lines into encoded chunks of about `chunkChars` characters. */
class OutputChunks {
  readonly chunks: Array<Uint8Array> = []
  private parts: Array<string> = []
  private chars = 0
  bytes = 0
  lines = 0
  constructor(private readonly chunkChars: number) {}
  add(key: string, value: string) {
    const line = `${key} ${value}\n`
    this.parts.push(line)
    this.chars += line.length
    this.lines++
    if (this.chars >= this.chunkChars) this.flush()
  }
  flush() {
    if (this.parts.length === 0) return
    const data = encoder.encode(this.parts.join(""))
    this.chunks.push(data)
    this.bytes += data.length
    this.parts = []
    this.chars = 0
  }
}

/** Runs reduce task `index` over the intermediate files of `nMap` map tasks. */
export const runReduce = (
  ctx: TaskContext,
  index: number,
  nMap: number
): Effect.Effect<Record<string, number>, TaskError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const { app } = ctx
    const groups = new Map<string, Array<string>>()
    let inputBytes = 0
    let records = 0
    // Read concurrently, group in map-task order (so each key's values keep a deterministic order).
    const files = yield* Effect.forEach(
      Array.from({ length: nMap }, (_, m) => Files.intermediateName(m, index)),
      (name) => fs.readFile(Files.join(ctx.dir, name)),
      { concurrency: IO_CONCURRENCY }
    )
    for (let m = 0; m < nMap; m++) {
      const bytes = files[m]!
      const flat = Intermediate.decode(bytes, Files.intermediateName(m, index))
      if (Either.isLeft(flat)) return yield* flat.left
      inputBytes += bytes.length
      records += flat.right.length / 2
      groupInto(groups, flat.right)
      files[m] = EMPTY
    }
    const keys = [...groups.keys()].sort(compareStrings)
    const out = new OutputChunks(ctx.writeChunkChars)
    yield* reduceKeys(app, "reduce", app.reduce, keys, groups, (k, v) => out.add(k, v))
    out.flush()
    const name = Files.outputName(index)
    // An empty output is still a file: every reduce task leaves its mr-out-<r>.
    const chunks = out.chunks.length === 0 ? [new Uint8Array(0)] : out.chunks
    yield* Files.writeAtomic(fs, ctx.dir, name, chunks, Files.tempName(ctx.env.workerId, ctx.attempt, name))
    return {
      "reduce.input.bytes": inputBytes,
      "reduce.input.records": records,
      "reduce.input.groups": keys.length,
      "reduce.output.records": out.lines,
      "reduce.output.bytes": out.bytes
    }
  }).pipe(Effect.provideService(MrEnv, ctx.env))
