/**
 * The key and value limits of the key/value services, one definition for every path: the HTTP API,
 * the TCP server and the client (which refuses before sending). The Raft log bounds an entry too
 * (`RaftConfig.maxAppendBytes`), and a value at the limit fits in one with room to spare.
 * @since 0.1.0
 */
import { InvalidRequest } from "../replica/Messages.js"

export interface Limits {
  /** Largest key, in UTF-8 bytes. Keys are never empty. */
  readonly maxKeyBytes: number
  /** Largest value (or appended suffix), in UTF-8 bytes. */
  readonly maxValueBytes: number
}

export const defaults: Limits = { maxKeyBytes: 1024, maxValueBytes: 1024 * 1024 }

/** UTF-8 length of a string, without encoding it. */
export const utf8Bytes = (s: string): number => {
  let n = s.length
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) continue
    if (c < 0x800) n += 1
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      // A surrogate pair: four bytes for two UTF-16 units.
      n += 2
      i++
    } else n += 2
  }
  return n
}

/** Why `key` is refused, if it is. */
export const checkKey = (key: string, limits: Limits = defaults): InvalidRequest | undefined =>
  key.length === 0
    ? new InvalidRequest({ code: "bad_request", reason: "empty key" })
    : key.length * 3 > limits.maxKeyBytes && utf8Bytes(key) > limits.maxKeyBytes
    ? new InvalidRequest({ code: "key_too_large", reason: `keys are limited to ${limits.maxKeyBytes} bytes` })
    : undefined

/** Why `value` is refused, if it is. */
export const checkValue = (value: string, limits: Limits = defaults): InvalidRequest | undefined =>
  value.length * 3 > limits.maxValueBytes && utf8Bytes(value) > limits.maxValueBytes
    ? new InvalidRequest({ code: "value_too_large", reason: `values are limited to ${limits.maxValueBytes} bytes` })
    : undefined

/** Why a request on `key` with `value` is refused, if it is. */
export const check = (key: string, value: string, limits: Limits = defaults): InvalidRequest | undefined =>
  checkKey(key, limits) ?? checkValue(value, limits)
