/**
 * A test app: word count whose first map call anywhere crashes its worker (a marker file in the job
 * directory remembers that it happened). For testing `concord mr run`'s worker restarts cheaply.
 */
import { FileSystem } from "@effect/platform"
import { Effect } from "effect"
import { MrEnv } from "../../../src/mapreduce/App.js"
import * as wc from "../../../src/mapreduce/apps/wc.js"

export const map = (file: string, contents: string) =>
  Effect.gen(function*() {
    const env = yield* MrEnv
    const fs = yield* FileSystem.FileSystem
    const marker = `${env.dir}/crashed-once`
    if (!(yield* fs.exists(marker))) {
      yield* fs.writeFileString(marker, env.workerId)
      return yield* env.crash
    }
    return wc.map(file, contents)
  })

export const reduce = wc.reduce
