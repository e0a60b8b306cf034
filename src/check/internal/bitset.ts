/**
 * A fixed-size set of small non-negative integers over a `Uint32Array`, and the per-element random
 * keys that give such a set an O(1) incremental hash (Zobrist hashing).
 * @internal
 */

export class Bitset {
  readonly words: Uint32Array
  constructor(readonly size: number) {
    this.words = new Uint32Array((size + 31) >>> 5)
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
