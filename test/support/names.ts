/** The 6.824 harnesses name ends with random 20-character strings (drawn from the simulation's Random). */
import { Effect, Random } from "effect"
import type * as SimNetwork from "../../src/rpc/SimNetwork.js"

const ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

export const randomName = Effect.gen(function*() {
  let s = ""
  for (let k = 0; k < 20; k++) s += ALPHABET[yield* Random.nextIntBetween(0, ALPHABET.length)]
  return s
})

/**
 * A server's fresh outgoing ends, one per server in `ids` (as the labs' start1 makes them): each gets a
 * random name and is connected to its server. Returns the names in `ids` order, and the ends by server id.
 */
export const connectEnds = (net: SimNetwork.SimNetworkShape, ids: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const names: Array<string> = []
    const ends: Record<string, string> = {}
    for (const id of ids) {
      const name = yield* randomName
      names.push(name)
      yield* net.makeEnd(name)
      yield* net.connect(name, id)
      ends[id] = name
    }
    return { names, ends }
  })
