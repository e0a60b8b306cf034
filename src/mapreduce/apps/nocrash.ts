/**
 * The reference for the crash test (6.824 `nocrash.so`): map emits `a → filename`,
 * `b → len(filename)`, `c → len(contents)` (UTF-8 bytes, as Go's len) and `d → "xyzzy"`; reduce sorts
 * the values and joins them with spaces.
 * @since 0.1.0
 */
import type { KeyValue } from "../App.js"
import { compareStrings, utf8Length } from "../internal/text.js"

export const map = (filename: string, contents: string): Array<KeyValue> => [
  { key: "a", value: filename },
  { key: "b", value: String(utf8Length(filename)) },
  { key: "c", value: String(utf8Length(contents)) },
  { key: "d", value: "xyzzy" }
]

export const reduce = (_key: string, values: ReadonlyArray<string>): string =>
  [...values].sort(compareStrings).join(" ")
