/**
 * Job-count test app (6.824 `jobcount.so`): each map call leaves a new file
 * `mr-worker-jobcount-<worker>-<n>`, sleeps 2–5 s and emits `("a", "x")`; reduce outputs the number of
 * such files, i.e. how many map executions there were. With 8 inputs the answer must be 8: no task
 * may run twice when no worker fails.
 *
 * The original numbers the files with a per-process counter; here `n` is the first number free for
 * this worker, which is the same sequence without module state (several simulated workers share one
 * module instance).
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { Effect, Random } from "effect"
import { type KeyValue, MrEnv } from "../App.js"

const PREFIX = "mr-worker-jobcount"

export const map = (_filename: string, _contents: string) =>
  Effect.gen(function*() {
    const env = yield* MrEnv
    const fs = yield* FileSystem.FileSystem
    let n = 0
    while (yield* fs.exists(`${env.dir}/${PREFIX}-${env.workerId}-${n}`)) n++
    yield* fs.writeFileString(`${env.dir}/${PREFIX}-${env.workerId}-${n}`, "x")
    yield* Effect.sleep(`${2000 + (yield* Random.nextIntBetween(0, 3000))} millis`)
    const out: Array<KeyValue> = [{ key: "a", value: "x" }]
    return out
  })

export const reduce = (_key: string, _values: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const env = yield* MrEnv
    const fs = yield* FileSystem.FileSystem
    const names = yield* fs.readDirectory(env.dir)
    return String(names.filter((name) => name.startsWith(PREFIX)).length)
  })
