/**
 * A fixed-size set of small non-negative integers over a `Uint32Array`, and the per-element random
 * keys that give such a set an O(1) incremental hash (Zobrist hashing).
 * @internal
 */

export class Bitset {
  readonly words: Uint32Array
  /** `words`, if given, is zeroed storage of `(size + 31) >>> 5` words (say, a view of a larger buffer). */
  constructor(readonly size: number, words?: Uint32Array) {
    this.words = words ?? new Uint32Array((size + 31) >>> 5)
  }
  has(i: number): boolean {
    return (this.words[i >>> 5]! & (1 << (i & 31))) !== 0
  }
  set(i: number): void {
    this.words[i >>> 5]! |= 1 << (i & 31)
  }
  clear(i: number): void {
    this.words[i >>> 5]! &= ~(1 << (i & 31))
  }
}

/**
 * `count` pseudo-random 32-bit keys from a fixed seed (splitmix32). The XOR of the keys of a set's
 * members is its hash: adding or removing a member is one XOR. Fixed seeds keep runs reproducible.
 */
export const zobristKeys = (count: number, seed: number): Int32Array => {
  const keys = new Int32Array(count)
  let s = seed | 0
  for (let i = 0; i < count; i++) {
    s = (s + 0x9e3779b9) | 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
    keys[i] = z ^ (z >>> 16)
  }
  return keys
}

// Two fixed seeds (the search hashes a set twice); a key depends only on its seed and index, so one
// table per seed, grown by doubling, serves every search of up to SHARED_MAX operations.
const SEEDS = [0x2545f491, 0x6a09e667] as const
const SHARED_MAX = 1 << 16
const shared: Array<Int32Array> = SEEDS.map((seed) => zobristKeys(256, seed))

/**
 * At least `count` keys from seed `SEEDS[which]` (the first `count` are those of
 * `zobristKeys(count, seed)`), shared between callers up to a size: never write to it.
 */
export const sharedZobristKeys = (count: number, which: 0 | 1): Int32Array => {
  const seed = SEEDS[which]
  if (count > SHARED_MAX) return zobristKeys(count, seed)
  let keys = shared[which]!
  if (keys.length < count) {
    let size = keys.length
    while (size < count) size *= 2
    keys = shared[which] = zobristKeys(size, seed)
  }
  return keys
}
