/**
 * The crash test app (6.824 `crash.so`): `nocrash` behind `maybeCrash`. Before each map and reduce
 * call it draws r in 0..999: r < 330 crashes the worker (`MrEnv.crash`: a real worker exits with code
 * 1, a simulated one is interrupted), r < 660 sleeps a random 0–10 s, otherwise it goes on.
 * @since 0.1.0
 */
import { Effect, Random } from "effect"
import { MrEnv } from "../App.js"
import * as NoCrash from "./nocrash.js"

const maybeCrash = Effect.gen(function*() {
  const r = yield* Random.nextIntBetween(0, 1000)
  if (r < 330) return yield* (yield* MrEnv).crash
  if (r < 660) yield* Effect.sleep(`${yield* Random.nextIntBetween(0, 10_000)} millis`)
})

export const map = (filename: string, contents: string) =>
  Effect.andThen(maybeCrash, () => NoCrash.map(filename, contents))

export const reduce = (key: string, values: ReadonlyArray<string>) =>
  Effect.andThen(maybeCrash, () => NoCrash.reduce(key, values))
