/**
 * Reduce-parallelism test app (6.824 `rtiming.so`): map emits the keys a..j with value 1; each reduce
 * call announces itself with a marker file, counts the live workers announced, sleeps 1 s and outputs
 * the count.
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { KeyValue } from "../App.js"
import { nparallel } from "../internal/parallel.js"

export const map = (_filename: string, _contents: string): Array<KeyValue> =>
  "abcdefghij".split("").map((key) => ({ key, value: "1" }))

export const reduce = (_key: string, _values: ReadonlyArray<string>) => Effect.map(nparallel("reduce"), String)
