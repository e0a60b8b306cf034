/**
 * MapReduce applications: the interface a job's code implements, the environment it may use, and the
 * loader that finds an app by built-in name or module path.
 *
 * An app is a module exporting `map(filename, contents)` and `reduce(key, values)`, and optionally
 * `combine(key, values)` (a map-side partial reduce; it must be associative and commutative and return
 * what `reduce` would accept as one of its values) and `partition(key, nReduce)` (which reduce task a
 * key goes to; default: FNV-1a 32-bit of the key's UTF-8 bytes, & 0x7fffffff, mod nReduce, as in the
 * 6.824 framework). `map`, `reduce` and `combine` may return a plain value, a Promise, or an `Effect`
 * that uses `MrEnv` and `FileSystem`. Code that must run inside a deterministic simulation returns
 * plain values or Effects (a Promise settles on the host event loop, which the simulation cannot see).
 * @since 0.1.0
 */
import type { FileSystem } from "@effect/platform"
import { Context, Data, Effect, Either } from "effect"
import { pathToFileURL } from "node:url"
import { resolve } from "node:path"

/** One intermediate pair. */
export interface KeyValue {
  readonly key: string
  readonly value: string
}

/** What the app's functions may return: a value, a Promise of one, or an Effect. */
export type AppResult<A> = A | PromiseLike<A> | Effect.Effect<A, unknown, MrEnv | FileSystem.FileSystem>

/** A MapReduce application. */
export interface App {
  /** Name for messages (the built-in name or the module path). */
  readonly name: string
  /** Turns one input file into intermediate pairs. */
  readonly map: (filename: string, contents: string) => AppResult<Iterable<KeyValue>>
  /** Turns all values of one key into the output value (one `key value` line). */
  readonly reduce: (key: string, values: ReadonlyArray<string>) => AppResult<string>
  /** Optional map-side partial reduce of one key's values within one map task's output. */
  readonly combine?: (key: string, values: ReadonlyArray<string>) => AppResult<string>
  /** Optional partitioner: the reduce task (0 ≤ r < nReduce) of `key`. Must be a pure function. */
  readonly partition?: (key: string, nReduce: number) => number
}

/** What an app's Effects can use while a worker runs them. */
export interface MrEnvShape {
  /** This worker's id; a real worker's is its process id (what the 6.824 test apps use the pid for). */
  readonly workerId: string
  /** The job directory: intermediate files, outputs, and the test apps' marker files live here. */
  readonly dir: string
  /** Whether the worker with this id is still alive (a real worker: whether its process exists). */
  readonly isAlive: (workerId: string) => Effect.Effect<boolean>
  /**
   * Crashes this worker at once, like the test apps' `os.Exit(1)`: a real worker process exits with
   * code 1; a simulated worker has its fiber interrupted.
   */
  readonly crash: Effect.Effect<never>
  /**
   * Adds `delta` to the user counter `name`. Counters are per task attempt and reach the job's totals
   * only from the attempt the coordinator accepts, so re-executions never count twice.
   */
  readonly count: (name: string, delta: number) => Effect.Effect<void>
}

/** The environment of app code running in a worker (or in the sequential runner). */
export class MrEnv extends Context.Tag("concord/mapreduce/MrEnv")<MrEnv, MrEnvShape>() {}

/** Adds `delta` (default 1) to the user counter `name` (see `MrEnvShape.count`). */
export const count = (name: string, delta = 1): Effect.Effect<void, never, MrEnv> =>
  Effect.flatMap(MrEnv, (env) => env.count(name, delta))

/** Crashes the current worker (see `MrEnvShape.crash`). */
export const crash: Effect.Effect<never, never, MrEnv> = Effect.flatMap(MrEnv, (env) => env.crash)

/** The current worker's id. */
export const workerId: Effect.Effect<string, never, MrEnv> = Effect.map(MrEnv, (env) => env.workerId)

/** An app function failed (threw, rejected, or failed its Effect). The task attempt fails. */
export class AppError extends Data.TaggedError("AppError")<{
  readonly app: string
  /** Which function: map, reduce, combine or partition. */
  readonly fn: string
  /** The input file (map) or key (reduce, combine, partition). */
  readonly subject: string
  readonly cause: unknown
}> {
  override get message() {
    const detail = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `${this.app}: ${this.fn}(${JSON.stringify(this.subject.slice(0, 80))}) failed: ${detail}`
  }
}

/** An app could not be found or is not a valid app module. */
export class AppLoadError extends Data.TaggedError("AppLoadError")<{
  readonly spec: string
  readonly detail: string
}> {
  override get message() {
    return `cannot load app "${this.spec}": ${this.detail}`
  }
}

/** Built-in apps, by name (each loaded on first use). */
const builtinModules: Readonly<Record<string, () => Promise<unknown>>> = {
  wc: () => import("./apps/wc.js"),
  indexer: () => import("./apps/indexer.js"),
  mtiming: () => import("./apps/mtiming.js"),
  rtiming: () => import("./apps/rtiming.js"),
  jobcount: () => import("./apps/jobcount.js"),
  early_exit: () => import("./apps/early_exit.js"),
  crash: () => import("./apps/crash.js"),
  nocrash: () => import("./apps/nocrash.js")
}

/** Names of the built-in apps. */
export const builtinNames: ReadonlyArray<string> = Object.keys(builtinModules)

/**
 * Makes an `App` from a module's exports (`map`, `reduce`, optional `combine`, `partition`), or from
 * its `default` export if that holds them.
 */
export const fromModule = (name: string, mod: unknown): Either.Either<App, AppLoadError> => {
  const fail = (detail: string) => Either.left(new AppLoadError({ spec: name, detail }))
  if (typeof mod !== "object" || mod === null) return fail("the module has no exports")
  const m = mod as Record<string, unknown>
  const src = typeof m.map !== "function" && typeof m.default === "object" && m.default !== null
    ? m.default as Record<string, unknown>
    : m
  if (typeof src.map !== "function") return fail("it does not export a function map(filename, contents)")
  if (typeof src.reduce !== "function") return fail("it does not export a function reduce(key, values)")
  for (const optional of ["combine", "partition"] as const) {
    if (src[optional] !== undefined && typeof src[optional] !== "function") {
      return fail(`its ${optional} export is not a function`)
    }
  }
  const app: App = {
    name,
    map: src.map as App["map"],
    reduce: src.reduce as App["reduce"],
    ...(src.combine !== undefined ? { combine: src.combine as NonNullable<App["combine"]> } : {}),
    ...(src.partition !== undefined ? { partition: src.partition as NonNullable<App["partition"]> } : {})
  }
  return Either.right(app)
}

/**
 * Loads an app: a built-in name (`wc`, `indexer`, `mtiming`, `rtiming`, `jobcount`, `early_exit`,
 * `crash`, `nocrash`) or a module path (relative to the current directory; `.ts` modules need a
 * TypeScript loader such as tsx). Real module loading: use it outside simulations.
 */
export const load = (spec: string): Effect.Effect<App, AppLoadError> => {
  const builtin = builtinModules[spec]
  const looksLikePath = /[/\\]|\.[cm]?[jt]s$/.test(spec)
  if (builtin === undefined && !looksLikePath) {
    return Effect.fail(
      new AppLoadError({
        spec,
        detail: `not a built-in app (${builtinNames.join(", ")}) nor a module path (like ./app.js)`
      })
    )
  }
  return Effect.tryPromise({
    try: () => builtin !== undefined ? builtin() : import(pathToFileURL(resolve(spec)).href),
    catch: (e) => {
      const err = e as { code?: string; message?: string }
      const detail = err.code === "ERR_MODULE_NOT_FOUND" && !builtin
        ? `no module at ${resolve(spec)}`
        : err.code === "ERR_UNKNOWN_FILE_EXTENSION"
        ? `${err.message ?? "unknown file extension"} (run through tsx to load TypeScript modules)`
        : err.message ?? String(e)
      return new AppLoadError({ spec, detail })
    }
  }).pipe(Effect.flatMap((mod) => fromModule(spec, mod)))
}
