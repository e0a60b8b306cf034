/**
 * Early-exit test app (6.824 `early_exit.so`): map emits `(filename, "1")`; reduce sleeps 3 s for keys
 * containing "sherlock" or "tom" and outputs the number of values. The test checks that no process
 * exits before the output is final.
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { KeyValue } from "../App.js"

export const map = (filename: string, _contents: string): Array<KeyValue> => [{ key: filename, value: "1" }]

export const reduce = (key: string, values: ReadonlyArray<string>) =>
  key.includes("sherlock") || key.includes("tom")
    ? Effect.as(Effect.sleep("3 seconds"), String(values.length))
    : String(values.length)
