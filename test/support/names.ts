/** The 6.824 harnesses name ends with random 20-character strings (drawn from the simulation's Random). */
import { Effect, Random } from "effect"

const ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

export const randomName = Effect.gen(function*() {
  let s = ""
  for (let k = 0; k < 20; k++) s += ALPHABET[yield* Random.nextIntBetween(0, ALPHABET.length)]
  return s
})
