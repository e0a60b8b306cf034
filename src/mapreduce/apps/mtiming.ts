/**
 * Map-parallelism test app (6.824 `mtiming.so`): each map announces itself with a marker file, counts
 * the live workers announced, sleeps 1 s and emits `times-<worker>` (its start time in seconds) and
 * `parallel-<worker>` (the count). Reduce joins the sorted values.
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import { type KeyValue, MrEnv } from "../App.js"
import { compareStrings } from "../internal/text.js"
import { nparallel } from "../internal/parallel.js"

export const map = (_filename: string, _contents: string) =>
  Effect.gen(function*() {
    const env = yield* MrEnv
    const ts = (yield* Clock.currentTimeMillis) / 1000
    const n = yield* nparallel("map")
    const out: Array<KeyValue> = [
      { key: `times-${env.workerId}`, value: ts.toFixed(1) },
      { key: `parallel-${env.workerId}`, value: String(n) }
    ]
    return out
  })

export const reduce = (_key: string, values: ReadonlyArray<string>): string =>
  [...values].sort(compareStrings).join(" ")
