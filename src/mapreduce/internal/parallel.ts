/**
 * The marker-file routine of the 6.824 timing apps (`nparallel` in mtiming.go / rtiming.go): announce
 * this worker with a file `mr-worker-<phase>-<id>`, count the announced workers that are alive, sleep
 * 1 s so that workers running at the same time see each other, and remove the file.
 * @internal
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { Effect } from "effect"
import { MrEnv } from "../App.js"

export const nparallel = (phase: "map" | "reduce") =>
  Effect.gen(function*() {
    const env = yield* MrEnv
    const fs = yield* FileSystem.FileSystem
    const prefix = `mr-worker-${phase}-`
    const mine = `${env.dir}/${prefix}${env.workerId}`
    yield* fs.writeFileString(mine, "x")
    let n = 0
    for (const name of yield* fs.readDirectory(env.dir)) {
      if (name.startsWith(prefix) && (yield* env.isAlive(name.slice(prefix.length)))) n++
    }
    yield* Effect.sleep("1 second")
    yield* fs.remove(mine)
    return n
  })
