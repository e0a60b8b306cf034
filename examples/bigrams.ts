// bigrams.ts: a MapReduce app counting adjacent word pairs.
//   concord mr run --app ./bigrams.js FILE…   (or the .ts file, when concord runs under tsx)
import { Effect } from "effect"
import { App } from "../src/mapreduce/index.js"

export const map = (_file: string, text: string) =>
  Effect.gen(function*() {
    const words = text.toLowerCase().match(/\p{L}+/gu) ?? []
    yield* App.count("words", words.length) // summed once per task at the coordinator
    return words.slice(1).map((w, i) => ({ key: `${words[i]} ${w}`, value: "1" }))
  })
const sum = (_key: string, values: ReadonlyArray<string>) => String(values.reduce((n, v) => n + Number(v), 0))
export const reduce = sum
export const combine = sum // map-side partial reduce: associative, commutative, same value format
export const partition = (key: string, n: number) => key.charCodeAt(0) % n // default: FNV-1a ihash, as 6.824
