/**
 * Text helpers with Go's semantics, for the apps and the framework: word splitting as
 * `strings.FieldsFunc(s, !unicode.IsLetter)`, UTF-8 byte lengths (Go's `len(string)`), and the
 * framework's key hash (`ihash`: FNV-1a 32-bit over the key's UTF-8 bytes, & 0x7fffffff).
 *
 * The loops special-case ASCII, which is all the usual inputs hold, and fall back to Unicode's letter
 * property (`\p{L}`, the categories `unicode.IsLetter` accepts) for other code points.
 * @internal
 */

const LETTER = /^\p{L}$/u

/** Whether a non-ASCII code point is a Unicode letter. Unpaired surrogates are not. */
const isLetterNonAscii = (cp: number): boolean => cp >= 0xaa && LETTER.test(String.fromCodePoint(cp))

/** Whether a UTF-16 code unit is an ASCII letter. */
const isAsciiLetter = (c: number): boolean => ((c | 32) - 97) >>> 0 < 26

/** Calls `f` with each maximal run of letters in `text`, in order. */
export const forEachWord = (text: string, f: (word: string) => void): void => {
  const n = text.length
  let start = -1
  let i = 0
  while (i < n) {
    const c = text.charCodeAt(i)
    if (c < 128) {
      if (isAsciiLetter(c)) {
        if (start < 0) start = i
      } else if (start >= 0) {
        f(text.slice(start, i))
        start = -1
      }
      i++
      continue
    }
    const cp = text.codePointAt(i)!
    if (isLetterNonAscii(cp)) {
      if (start < 0) start = i
    } else if (start >= 0) {
      f(text.slice(start, i))
      start = -1
    }
    i += cp > 0xffff ? 2 : 1
  }
  if (start >= 0) f(text.slice(start))
}

/**
 * Counts the words of `text` (as `forEachWord` splits it) into `counts`. The hot loop of word count,
 * written out so that it does no call per character.
 */
export const countWords = (text: string, counts: Map<string, number>): void => {
  const n = text.length
  let i = 0
  while (i < n) {
    let c = text.charCodeAt(i)
    if (c < 128 && !isAsciiLetter(c)) {
      i++
      continue
    }
    // A word starts here (or a non-ASCII character that may or may not be a letter).
    const start = i
    for (;;) {
      if (c < 128) {
        if (!isAsciiLetter(c)) break
        i++
      } else {
        const cp = text.codePointAt(i)!
        if (!isLetterNonAscii(cp)) break
        i += cp > 0xffff ? 2 : 1
      }
      if (i >= n) break
      c = text.charCodeAt(i)
    }
    if (i === start) {
      // A non-letter outside ASCII.
      i += text.codePointAt(i)! > 0xffff ? 2 : 1
      continue
    }
    const word = text.slice(start, i)
    counts.set(word, (counts.get(word) ?? 0) + 1)
  }
}

/** The number of bytes of `s` in UTF-8 (Go's `len(s)`). Unpaired surrogates count as U+FFFD (3 bytes). */
export const utf8Length = (s: string): number => {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4
      i++
    } else n += 3
  }
  return n
}

/** FNV-1a 32-bit of the UTF-8 bytes of `s` (unpaired surrogates as U+FFFD), as an unsigned integer. */
export const fnv1a32 = (s: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) h = Math.imul(h ^ c, 0x01000193)
    else {
      // Rare: hash the character's UTF-8 bytes (out of line, so the ASCII loop stays small).
      const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00
      h = fnvNonAscii(h, pair ? 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(i + 1) - 0xdc00) : c)
      if (pair) i++
    }
  }
  return h >>> 0
}

/** Continues FNV-1a over the UTF-8 encoding of one non-ASCII code point (a lone surrogate as U+FFFD). */
const fnvNonAscii = (h: number, cp: number): number => {
  const m = 0x01000193
  if (cp < 0x800) return Math.imul(Math.imul(h ^ (0xc0 | (cp >> 6)), m) ^ (0x80 | (cp & 0x3f)), m)
  if (cp >= 0x10000) {
    h = Math.imul(h ^ (0xf0 | (cp >> 18)), m)
    h = Math.imul(h ^ (0x80 | ((cp >> 12) & 0x3f)), m)
    h = Math.imul(h ^ (0x80 | ((cp >> 6) & 0x3f)), m)
    return Math.imul(h ^ (0x80 | (cp & 0x3f)), m)
  }
  if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd
  h = Math.imul(h ^ (0xe0 | (cp >> 12)), m)
  h = Math.imul(h ^ (0x80 | ((cp >> 6) & 0x3f)), m)
  return Math.imul(h ^ (0x80 | (cp & 0x3f)), m)
}

/** The 6.824 framework's `ihash(key)`: FNV-1a 32-bit & 0x7fffffff. */
export const ihash = (key: string): number => fnv1a32(key) & 0x7fffffff

/**
 * String order for keys and values: UTF-16 code units, which is Go's byte order of UTF-8 except between
 * characters above U+FFFF and those in U+E000–U+FFFF (rare; outputs are compared sorted anyway).
 */
export const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)
