/**
 * Inverted index: for each word, the number of input files that contain it and their sorted names
 * (`word n file1,file2,...`). Same behaviour as the 6.824 `indexer.so`.
 * @since 0.1.0
 */
import type { KeyValue } from "../App.js"
import { compareStrings, forEachWord } from "../internal/text.js"

export const map = (document: string, contents: string): Array<KeyValue> => {
  const words = new Set<string>()
  forEachWord(contents, (w) => words.add(w))
  const out: Array<KeyValue> = []
  for (const key of words) out.push({ key, value: document })
  return out
}

export const reduce = (_key: string, values: ReadonlyArray<string>): string => {
  const sorted = [...values].sort(compareStrings)
  return `${sorted.length} ${sorted.join(",")}`
}
