/** The request classes the transport tests serve (labrpc's test handlers, in Schema). */
import { Duration, Effect, Schema } from "effect"
import * as Transport from "../../src/rpc/Transport.js"

export class DivideByZero extends Schema.TaggedError<DivideByZero>()("DivideByZero", { dividend: Schema.Int }) {}

/** labrpc Handler2/4: echo a string back. */
export class Echo extends Schema.TaggedRequest<Echo>()("Echo", {
  failure: Schema.Never,
  success: Schema.String,
  payload: { text: Schema.String }
}) {}

/** labrpc Handler6: a string in, its length out. */
export class Length extends Schema.TaggedRequest<Length>()("Length", {
  failure: Schema.Never,
  success: Schema.Int,
  payload: { text: Schema.String }
}) {}

/** labrpc Handler7: an int in, a string of that many 'y' out. */
export class Repeat extends Schema.TaggedRequest<Repeat>()("Repeat", {
  failure: Schema.Never,
  success: Schema.String,
  payload: { n: Schema.Int }
}) {}

/** A typed failure crosses the wire. */
export class Divide extends Schema.TaggedRequest<Divide>()("Divide", {
  failure: DivideByZero,
  success: Schema.Int,
  payload: { a: Schema.Int, b: Schema.Int }
}) {}

/** The handler sleeps (labrpc's Killed test: 20 s). */
export class Sleep extends Schema.TaggedRequest<Sleep>()("Sleep", {
  failure: Schema.Never,
  success: Schema.Int,
  payload: { ms: Schema.Int }
}) {}

/** labrpc's Types test: nested structures of every shape round-trip. */
export const Shapes = Schema.Struct({
  ints: Schema.Array(Schema.Int),
  bytes: Schema.Uint8ArrayFromSelf,
  nested: Schema.Struct({ flag: Schema.Boolean, label: Schema.optional(Schema.String) }),
  byName: Schema.Record({ key: Schema.String, value: Schema.Number }),
  tagged: Schema.Union(
    Schema.TaggedStruct("A", { a: Schema.Int }),
    Schema.TaggedStruct("B", { b: Schema.String })
  )
})
export class RoundTrip extends Schema.TaggedRequest<RoundTrip>()("RoundTrip", {
  failure: Schema.Never,
  success: Shapes,
  payload: { value: Shapes }
}) {}

/** A handler that dies: the caller gets TransportError("Remote"). */
export class Crash extends Schema.TaggedRequest<Crash>()("Crash", {
  failure: Schema.Never,
  success: Schema.Void,
  payload: {}
}) {}

export class TooSlow extends Schema.TaggedError<TooSlow>()("TooSlow", { ms: Schema.Int }) {}

/** As `Sleep`, with a failure a server deadline can answer it with. */
export class Slow extends Schema.TaggedRequest<Slow>()("Slow", {
  failure: TooSlow,
  success: Schema.Int,
  payload: { ms: Schema.Int }
}) {}

export const TestProtocol = Transport.protocol("Test", Echo, Length, Repeat, Divide, Sleep, RoundTrip, Crash, Slow)

export type TestRequest = Schema.Schema.Type<(typeof TestProtocol.classes)[number]>

/** The test handlers; `count` is called once per request a handler runs. */
export const testHandlers = (count: () => void = () => {}, interrupted: () => void = () => {}): Transport.Handlers<TestRequest, never> => ({
  Echo: (r) => Effect.sync(() => (count(), r.text)),
  Length: (r) => Effect.sync(() => (count(), r.text.length)),
  Repeat: (r) => Effect.sync(() => (count(), "y".repeat(r.n))),
  Divide: (r) => {
    count()
    return r.b === 0 ? Effect.fail(new DivideByZero({ dividend: r.a })) : Effect.succeed(Math.trunc(r.a / r.b))
  },
  Sleep: (r) => Effect.sync(count).pipe(Effect.zipRight(Effect.sleep(Duration.millis(r.ms))), Effect.as(r.ms)),
  RoundTrip: (r) => Effect.sync(() => (count(), r.value)),
  Crash: () => Effect.sync(count).pipe(Effect.zipRight(Effect.die("boom"))),
  Slow: (r) =>
    Effect.sync(count).pipe(
      Effect.zipRight(Effect.sleep(Duration.millis(r.ms))),
      Effect.as(r.ms),
      Effect.onInterrupt(() => Effect.sync(interrupted))
    )
})
