/**
 * The on-disk record format of the file `LogStorage`, and the scanner that reads it back.
 *
 * A record is `u32 length | u32 crc32(payload) | payload`, little-endian (the byte order of every
 * machine we run on, and etcd's WAL's), where `payload` is the msgpack of one tagged tuple:
 * - `[0, term, vote, commit]` or `[0, term, vote, commit, rejoin]`: the hard state (`rejoin` only on a
 *   node under the amnesia guard, see `HardState.rejoin`);
 * - `[1, [entry…]]`: entries, with `LogModel.append`'s overwrite semantics (they replace every stored
 *   entry from the first one's index on), each entry encoded by `LogEntrySchema`;
 * - `[2, index, term, discardLog]`: a snapshot marker (the snapshot itself is a file in `snap/`).
 * Tuples with a numeric tag rather than tagged structs: a struct would store its key names in every
 * record.
 *
 * A snapshot file is one record of the same framing whose payload is `[index, term, data]` or
 * `[index, term, data, membership]` (the cluster configuration at `index`, `Membership` as a struct;
 * files written before membership existed have none and mean the bootstrap configuration).
 * @internal
 */
import { Either, Schema } from "effect"
import * as zlib from "node:zlib"
import * as Codec from "../../codec/Codec.js"
import type { HardState, LogEntry, Snapshot } from "../../raft/core/types.js"
import { LogEntrySchema, MembershipSchema } from "../../raft/Messages.js"

/** One WAL record, decoded. */
export type WalRecord =
  | { readonly _tag: "HardState"; readonly hardState: HardState }
  | { readonly _tag: "Entries"; readonly entries: ReadonlyArray<LogEntry> }
  | { readonly _tag: "Snapshot"; readonly index: number; readonly term: number; readonly discardLog: boolean }

const TAG_HARD_STATE = 0
const TAG_ENTRIES = 1
const TAG_SNAPSHOT = 2

const RecordSchema = Schema.Union(
  Schema.Tuple(
    Schema.Literal(TAG_HARD_STATE),
    Schema.NonNegativeInt,
    Schema.NullOr(Schema.String),
    Schema.NonNegativeInt,
    Schema.optionalElement(Schema.NonNegativeInt)
  ),
  Schema.Tuple(Schema.Literal(TAG_ENTRIES), Schema.Array(LogEntrySchema)),
  Schema.Tuple(Schema.Literal(TAG_SNAPSHOT), Schema.NonNegativeInt, Schema.NonNegativeInt, Schema.Boolean)
)
const recordCodec = Codec.make(RecordSchema, "WAL record")

const SnapshotFileSchema = Schema.Tuple(
  Schema.NonNegativeInt,
  Schema.NonNegativeInt,
  Schema.Uint8ArrayFromSelf,
  Schema.optionalElement(MembershipSchema)
)
const snapshotFileCodec = Codec.make(SnapshotFileSchema, "snapshot file")

/** Bytes before a record's payload: length and CRC. */
export const HEADER_BYTES = 8
const MAX_PAYLOAD = 0xffff_ffff

const frame = (payload: Uint8Array): Uint8Array => {
  if (payload.length > MAX_PAYLOAD) throw new Error(`LogStorage: a record of ${payload.length} bytes does not fit its u32 length`)
  const out = new Uint8Array(HEADER_BYTES + payload.length)
  const view = new DataView(out.buffer)
  view.setUint32(0, payload.length, true)
  view.setUint32(4, zlib.crc32(payload), true)
  out.set(payload, HEADER_BYTES)
  return out
}

// Encoding is by hand, to exactly the tuples `RecordSchema` (and `LogEntrySchema` inside it) decode: Schema
// encoding cost ~20 µs per one-entry record, ten times the packing, on the path every append takes.
// The checks below are the schemas' own refinements, so a bad value is still the caller's defect and
// never reaches the disk (where it would make the segment undecodable). A test pins the equivalence.
const isNat = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0

const invalid = (what: string, value: unknown): never => {
  throw new Error(`LogStorage: invalid ${what}: ${JSON.stringify(value, (_, v) => v instanceof Uint8Array ? `<${v.length} bytes>` : v)}`)
}

const plainEntry = (e: LogEntry): readonly [number, number, 0 | 1 | 2, Uint8Array] => {
  if (!(isNat(e.index) && isNat(e.term) && (e.kind === 0 || e.kind === 1 || e.kind === 2) && e.data instanceof Uint8Array)) {
    return invalid("log entry", e)
  }
  return [e.index, e.term, e.kind, e.data]
}

/** Frames one record. Values that violate their schema (a negative term, say) are the caller's bug: throws. */
export const encodeRecord = (record: WalRecord): Uint8Array => {
  switch (record._tag) {
    case "HardState": {
      const { commit, rejoin, term, vote } = record.hardState
      if (!(isNat(term) && isNat(commit) && (vote === null || typeof vote === "string") && (rejoin === undefined || isNat(rejoin)))) {
        return invalid("hard state", record.hardState)
      }
      return frame(Codec.pack(rejoin === undefined ? [TAG_HARD_STATE, term, vote, commit] : [TAG_HARD_STATE, term, vote, commit, rejoin]))
    }
    case "Entries":
      return frame(Codec.pack([TAG_ENTRIES, record.entries.map(plainEntry)]))
    case "Snapshot": {
      const { discardLog, index, term } = record
      if (!(isNat(index) && isNat(term) && typeof discardLog === "boolean")) return invalid("snapshot marker", record)
      return frame(Codec.pack([TAG_SNAPSHOT, index, term, discardLog]))
    }
  }
}

const fromTuple = (t: typeof RecordSchema.Type): WalRecord => {
  switch (t[0]) {
    case TAG_HARD_STATE:
      return {
        _tag: "HardState",
        hardState: t[4] === undefined ? { term: t[1], vote: t[2], commit: t[3] } : { term: t[1], vote: t[2], commit: t[3], rejoin: t[4] }
      }
    case TAG_ENTRIES:
      return { _tag: "Entries", entries: t[1] }
    case TAG_SNAPSHOT:
      return { _tag: "Snapshot", index: t[1], term: t[2], discardLog: t[3] }
  }
}

/** A snapshot file's bytes (rare and large: the Schema's checks cost nothing here). */
export const encodeSnapshotFile = (snapshot: Snapshot): Uint8Array =>
  frame(snapshotFileCodec.encode(
    snapshot.membership === undefined
      ? [snapshot.index, snapshot.term, snapshot.data]
      : [snapshot.index, snapshot.term, snapshot.data, snapshot.membership]
  ))

/** The Schema encoding of a record, which `encodeRecord` reproduces by hand (for tests). */
export const encodeRecordWithSchema = (record: WalRecord): Uint8Array => {
  switch (record._tag) {
    case "HardState":
      return frame(recordCodec.encode(
        record.hardState.rejoin === undefined
          ? [TAG_HARD_STATE, record.hardState.term, record.hardState.vote, record.hardState.commit]
          : [TAG_HARD_STATE, record.hardState.term, record.hardState.vote, record.hardState.commit, record.hardState.rejoin]
      ))
    case "Entries":
      return frame(recordCodec.encode([TAG_ENTRIES, record.entries]))
    case "Snapshot":
      return frame(recordCodec.encode([TAG_SNAPSHOT, record.index, record.term, record.discardLog]))
  }
}

/** Where and why bytes cannot be read. */
export interface Damage {
  readonly offset: number
  readonly detail: string
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, "0")}`

/** Decodes and verifies a snapshot file. */
export const decodeSnapshotFile = (bytes: Uint8Array): Either.Either<Snapshot, Damage> => {
  if (bytes.length < HEADER_BYTES) {
    return Either.left({ offset: 0, detail: `${bytes.length} bytes is too short for a snapshot file` })
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const length = view.getUint32(0, true)
  if (HEADER_BYTES + length !== bytes.length) {
    return Either.left({
      offset: 0,
      detail: `header announces ${length} payload bytes but the file holds ${bytes.length - HEADER_BYTES}`
    })
  }
  const payload = bytes.subarray(HEADER_BYTES)
  const stored = view.getUint32(4, true)
  const computed = zlib.crc32(payload)
  if (stored !== computed) {
    return Either.left({ offset: 0, detail: `checksum mismatch (stored ${hex(stored)}, computed ${hex(computed)})` })
  }
  return Either.match(snapshotFileCodec.decode(payload), {
    onLeft: (e) => Either.left({ offset: HEADER_BYTES, detail: e.message }),
    onRight: ([index, term, data, membership]) =>
      Either.right(membership === undefined ? { index, term, data } : { index, term, data, membership })
  })
}

/** A record found by `scan`, with its byte range in the segment. */
export interface Scanned {
  readonly offset: number
  readonly end: number
  readonly record: WalRecord
}

/** The readable part of a segment. */
export interface ScanResult {
  readonly records: ReadonlyArray<Scanned>
  /** End of the last whole record: where a torn tail starts, or the file size. */
  readonly end: number
  /** Why the bytes after `end` are a torn write (only ever set for the last segment). */
  readonly torn: string | undefined
}

const allZero = (bytes: Uint8Array, from: number): boolean => {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0) return false
  return true
}

/**
 * Reads every record of a segment. In the last segment a torn write — the unacknowledged tail of the
 * batch being written when the process or machine died — is reported in `torn` so the caller can cut
 * it off: an incomplete header, a payload shorter than its header announces, trailing zero bytes (a
 * file extended before its data reached the disk), or a checksum mismatch in a record that ends
 * exactly at the end of the file. Everything else is `Damage`: a checksum mismatch with more data
 * after it, an undecodable payload, or any of the torn shapes in a segment that is not the last (every
 * byte of an older segment was fsynced before a newer one was created).
 *
 * What this cannot tell apart (the price of a length field without its own checksum): a flipped bit in
 * the length of the last segment's final records that points past the end of the file looks like a
 * torn write and is truncated — visibly, the caller logs how many bytes it dropped. The opposite
 * mistake is the safe one: a filesystem that persisted a later page of an unsynced write but not an
 * earlier one leaves a mismatch with data after it, and the node refuses to start instead of guessing.
 */
export const scan = (bytes: Uint8Array, isLast: boolean): Either.Either<ScanResult, Damage> => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const records: Array<Scanned> = []
  let pos = 0
  const torn = (reason: string): Either.Either<ScanResult, Damage> =>
    isLast
      ? Either.right({ records, end: pos, torn: reason })
      : Either.left({ offset: pos, detail: `${reason} in a segment that is not the last (not a torn write)` })
  while (pos < bytes.length) {
    const rest = bytes.length - pos
    if (rest < HEADER_BYTES) {
      return torn(allZero(bytes, pos) ? `${rest} trailing zero bytes` : `incomplete record header (${rest} of 8 bytes)`)
    }
    const length = view.getUint32(pos, true)
    const stored = view.getUint32(pos + 4, true)
    if (length === 0) {
      if (allZero(bytes, pos)) return torn(`${rest} trailing zero bytes`)
      return Either.left({ offset: pos, detail: "record of length 0" })
    }
    if (length > rest - HEADER_BYTES) {
      return torn(`incomplete record (header announces ${length} payload bytes, ${rest - HEADER_BYTES} present)`)
    }
    const end = pos + HEADER_BYTES + length
    const payload = bytes.subarray(pos + HEADER_BYTES, end)
    const computed = zlib.crc32(payload)
    if (computed !== stored) {
      if (end === bytes.length) return torn(`checksum mismatch in the final record`)
      return Either.left({
        offset: pos,
        detail: `checksum mismatch (stored ${hex(stored)}, computed ${hex(computed)}) with ${bytes.length - end} ` +
          `more bytes after the record`
      })
    }
    const decoded = recordCodec.decode(payload)
    if (Either.isLeft(decoded)) return Either.left({ offset: pos, detail: decoded.left.message })
    records.push({ offset: pos, end, record: fromTuple(decoded.right) })
    pos = end
  }
  return Either.right({ records, end: pos, torn: undefined })
}
