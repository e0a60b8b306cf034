/**
 * Schema <-> bytes. Every message that crosses a node boundary (simulated or TCP) and every record on
 * disk goes through here: a value is encoded with its Schema to a plain structure, then packed with
 * MessagePack.
 *
 * Why MessagePack (msgpackr) rather than JSON: Raft commands and snapshots are bytes, which JSON could
 * only carry as base64 (a third larger, and a copy each way); msgpack packs `Uint8Array` natively and
 * small integers in one byte, which keeps the byte counts the 6.824 tests assert (RPCBytes2B, the 2D
 * log-size limit, SnapshotSize3B) close to Go's gob. msgpackr is what `@effect/platform` itself uses.
 * @since 0.1.0
 */
import { Data, Either, ParseResult, Schema } from "effect"
import { Packr } from "msgpackr"

/** Bytes that could not be decoded into the expected shape. */
export class DecodeError extends Data.TaggedError("DecodeError")<{
  readonly what: string
  readonly detail: string
}> {
  override get message() {
    return `cannot decode ${this.what}: ${this.detail}`
  }
}

// One packer for the whole process. `useRecords: false` keeps every message self-contained (no
// structure table shared between messages, which would make a message's meaning depend on history).
// Decoded byte fields are views into the message's bytes (copying each was 3-4x slower to decode); the
// transports hand `unpack` a buffer owned by that one message, never a shared receive buffer.
const packr = new Packr({
  useRecords: false,
  moreTypes: false,
  mapsAsObjects: true,
  variableMapSize: true,
  int64AsType: "number"
})

/** Packs a plain (already Schema-encoded) structure. */
export const pack = (value: unknown): Uint8Array => packr.pack(value)

/** Unpacks bytes into a plain structure; `DecodeError` on malformed input. */
export const unpack = (bytes: Uint8Array, what = "message"): Either.Either<unknown, DecodeError> => {
  try {
    // A plain Uint8Array view (not a Node Buffer) makes decoded byte fields plain Uint8Arrays too.
    const view = bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    return Either.right(packr.unpack(view))
  } catch (e) {
    return Either.left(new DecodeError({ what, detail: e instanceof Error ? e.message : String(e) }))
  }
}

/** A compiled codec for one schema. */
export interface Codec<A> {
  readonly encode: (value: A) => Uint8Array
  /** Schema-encode only (no packing), for embedding in a larger packed structure. */
  readonly encodePlain: (value: A) => unknown
  readonly decode: (bytes: Uint8Array) => Either.Either<A, DecodeError>
  /** Schema-decode an already unpacked structure. */
  readonly decodePlain: (plain: unknown) => Either.Either<A, DecodeError>
}

const cache = new WeakMap<Schema.Schema.Any, Codec<any>>()

/**
 * A hand-written codec for one schema's hot path (a message sent per request). `Schema`'s general
 * interpreter costs several µs per message, more than the rest of a message's handling on a Raft
 * follower, so the messages on every put's path (AppendEntries, the KV requests, the log's commands)
 * register one. It must agree with the schema on everything it accepts (tested against Schema on
 * random values); what it does not accept, it leaves to Schema, which decodes it or says why not.
 */
export interface FastPath<A> {
  /** The plain form `Schema.encode` gives for a valid value. */
  readonly encodePlain: (value: A) => unknown
  /** The decoded value, or `undefined`: not the common shape, let Schema decide. */
  readonly decodePlain: (plain: unknown) => A | undefined
}

const fastPaths = new WeakMap<Schema.Schema.Any, FastPath<any>>()

/** Registers `path` for `schema`; must run before the schema's first `make` (next to the schema). */
export const fastPath = <A, I>(schema: Schema.Schema<A, I, never>, path: FastPath<A>): void => {
  if (cache.has(schema)) throw new Error("Codec.fastPath: register before the schema's codec is first made")
  fastPaths.set(schema, path)
}

/** A non-negative safe integer, as `Schema.NonNegativeInt` accepts. */
export const isNat = (u: unknown): u is number => typeof u === "number" && Number.isSafeInteger(u) && u >= 0

/** A plain object (an unpacked msgpack map). */
export const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * The codec of `schema`, compiled once and cached. Encoding a value that does not satisfy its own
 * schema is a bug in the caller and throws.
 */
export const make = <A, I>(schema: Schema.Schema<A, I, never>, what = "message"): Codec<A> => {
  const hit = cache.get(schema)
  if (hit !== undefined) return hit
  const encodeSync = Schema.encodeSync(schema)
  const decodeEither = Schema.decodeUnknownEither(schema)
  const decodePlain = (plain: unknown): Either.Either<A, DecodeError> =>
    Either.mapLeft(
      decodeEither(plain),
      (e) => new DecodeError({ what, detail: ParseResult.TreeFormatter.formatErrorSync(e) })
    )
  const fast = fastPaths.get(schema) as FastPath<A> | undefined
  const encodePlain = fast === undefined ? encodeSync : fast.encodePlain
  const decodeAny = fast === undefined ? decodePlain : (plain: unknown): Either.Either<A, DecodeError> => {
    const value = fast.decodePlain(plain)
    return value === undefined ? decodePlain(plain) : Either.right(value)
  }
  const codec: Codec<A> = {
    encode: (value) => packr.pack(encodePlain(value)),
    encodePlain,
    decode: (bytes) => Either.flatMap(unpack(bytes, what), decodeAny),
    decodePlain: decodeAny
  }
  cache.set(schema, codec)
  return codec
}
