/**
 * `LogStorage`: the durable state of one Raft node — hard state (term, vote, commit), the log
 * entries after the latest snapshot, and that snapshot.
 *
 * Every write is durable when its Effect completes (the file Layer has fsynced it), which is what lets
 * Raft acknowledge a vote or an entry only after it is safe. Two Layers:
 * - `layerMemory` / `makeMemory`: for simulation. Built outside a node's scope, its contents survive
 *   the node's "crash" (the scope closing) exactly as a disk would.
 * - `FileStorage.layer`: a segmented write-ahead log with CRCs, group commit and atomic snapshots.
 *
 * Sizes: `logBytes` is the encoded size of the hard state plus the retained entries, and
 * `snapshotBytes` the size of the snapshot's data — the quantities the 6.824 tests bound
 * (`RaftStateSize`, `SnapshotSize`). Both Layers compute them with the same formula.
 * @since 0.1.0
 */
import { Context, Data, Effect, Layer, ParseResult, Schema } from "effect"
import * as Codec from "../rpc/Codec.js"

/** What an entry carries: a user command, or the empty entry a new leader appends. */
export const EntryKind = {
  Command: 0,
  Noop: 1
} as const
export type EntryKind = (typeof EntryKind)[keyof typeof EntryKind]

/** One log entry. `data` is opaque to Raft. */
export interface LogEntry {
  readonly index: number
  readonly term: number
  readonly kind: EntryKind
  readonly data: Uint8Array
}

/**
 * A log entry on the wire and on disk: the tuple `[index, term, kind, data]` (a struct would repeat its
 * four key names in every entry of every AppendEntries).
 */
export const LogEntrySchema: Schema.Schema<LogEntry, readonly [number, number, EntryKind, Uint8Array]> = Schema.transform(
  Schema.Tuple(Schema.NonNegativeInt, Schema.NonNegativeInt, Schema.Literal(0, 1), Schema.Uint8ArrayFromSelf),
  Schema.Struct({
    index: Schema.NonNegativeInt,
    term: Schema.NonNegativeInt,
    kind: Schema.Literal(0, 1),
    data: Schema.Uint8ArrayFromSelf
  }),
  {
    strict: true,
    decode: ([index, term, kind, data]) => ({ index, term, kind, data }),
    encode: ({ index, term, kind, data }) => [index, term, kind, data] as const
  }
)

type EncodedEntry = readonly [number, number, EntryKind, Uint8Array]

const isIndex = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 0

/**
 * A whole array of entries, as in AppendEntries: the same tuples as `LogEntrySchema`, validated in one
 * loop. Composing `Schema.Array(LogEntrySchema)` runs about ten parser steps per entry (tuple,
 * refinements, transform, struct), which measured ~2 µs per entry each way: ten times the msgpack
 * cost, and the largest single cost of a simulated cluster.
 */
export const LogEntriesSchema: Schema.Schema<ReadonlyArray<LogEntry>, ReadonlyArray<EncodedEntry>> = Schema
  .transformOrFail(
    Schema.declare((u): u is ReadonlyArray<EncodedEntry> => Array.isArray(u), { identifier: "EncodedLogEntries" }),
    Schema.declare((u): u is ReadonlyArray<LogEntry> => Array.isArray(u), { identifier: "LogEntries" }),
    {
      strict: true,
      decode: (raw, _, ast) => {
        const out: Array<LogEntry> = new Array(raw.length)
        for (let i = 0; i < raw.length; i++) {
          const t = raw[i] as unknown
          if (
            !Array.isArray(t) || t.length !== 4 || !isIndex(t[0]) || !isIndex(t[1]) || (t[2] !== 0 && t[2] !== 1) ||
            !(t[3] instanceof Uint8Array)
          ) {
            return ParseResult.fail(new ParseResult.Type(ast, raw, `entry ${i} is not [index, term, kind 0|1, bytes]`))
          }
          out[i] = { index: t[0], term: t[1], kind: t[2], data: t[3] }
        }
        return ParseResult.succeed(out)
      },
      encode: (entries) => ParseResult.succeed(entries.map((e): EncodedEntry => [e.index, e.term, e.kind, e.data]))
    }
  )

/** Term, vote and commit index: what a node must remember across a crash besides the log. */
export interface HardState {
  readonly term: number
  readonly vote: string | null
  readonly commit: number
}

export const HardStateSchema = Schema.Struct({
  term: Schema.NonNegativeInt,
  vote: Schema.NullOr(Schema.String),
  commit: Schema.NonNegativeInt
})

export const emptyHardState: HardState = { term: 0, vote: null, commit: 0 }

/** A state-machine snapshot covering the log up to and including `index` (whose term is `term`). */
export interface Snapshot {
  readonly index: number
  readonly term: number
  readonly data: Uint8Array
}

export const SnapshotSchema = Schema.Struct({
  index: Schema.NonNegativeInt,
  term: Schema.NonNegativeInt,
  data: Schema.Uint8ArrayFromSelf
})

/** Everything a node finds when it starts. `entries` follow the snapshot (or start at index 1). */
export interface Persisted {
  readonly hardState: HardState
  readonly snapshot: Snapshot | undefined
  readonly entries: ReadonlyArray<LogEntry>
}

/** Sizes in bytes (see the module comment). */
export interface Sizes {
  readonly logBytes: number
  readonly snapshotBytes: number
}

/** Storage failed: an I/O error, or a directory that cannot be used. */
export class StorageError extends Data.TaggedError("StorageError")<{
  readonly path: string
  readonly detail: string
}> {
  override get message() {
    return `storage error at ${this.path}: ${this.detail}`
  }
}

/** The log on disk is damaged somewhere other than its tail: refusing to start rather than lose data. */
export class CorruptLog extends Data.TaggedError("CorruptLog")<{
  readonly file: string
  readonly offset: number
  readonly detail: string
}> {
  override get message() {
    return `corrupt log in ${this.file} at byte ${this.offset}: ${this.detail}; ` +
      `the damage is not at the tail, so it cannot be repaired by truncation (restore this node from a peer)`
  }
}

/** The LogStorage service. */
export interface LogStorageShape {
  /** Everything persisted. Read once when a node starts. */
  readonly load: Effect.Effect<Persisted, StorageError>
  /**
   * Durably stores `entries` (which replace any stored entries from `entries[0].index` on, so a
   * conflicting suffix is truncated by the same write) and then `hardState`, in one batch. Entries must
   * be contiguous, start after the snapshot and no later than the last index + 1; anything else is a
   * defect in the caller.
   */
  readonly append: (entries: ReadonlyArray<LogEntry>, hardState?: HardState) => Effect.Effect<void, StorageError>
  /** Durably stores the hard state alone. */
  readonly setHardState: (hardState: HardState) => Effect.Effect<void, StorageError>
  /**
   * Durably stores `snapshot` and drops the entries it covers. With `discardLog`, every later entry is
   * dropped too (a follower whose log conflicts with a snapshot from its leader). Atomic: after a crash
   * either the old snapshot and log or the new ones are found.
   */
  readonly installSnapshot: (
    snapshot: Snapshot,
    options?: { readonly discardLog?: boolean }
  ) => Effect.Effect<void, StorageError>
  /** The latest snapshot, if any. */
  readonly snapshot: Effect.Effect<Snapshot | undefined, StorageError>
  /** Current sizes. */
  readonly sizes: Effect.Effect<Sizes>
}

/** The LogStorage service tag. */
export class LogStorage extends Context.Tag("concord/LogStorage")<LogStorage, LogStorageShape>() {}

// -- the in-memory model shared by both Layers --------------------------------------------------

const entryCodec = Codec.make(LogEntrySchema, "log entry")
const hardStateCodec = Codec.make(HardStateSchema, "hard state")

// MessagePack sizes, computed rather than measured: sizing every entry by encoding it cost more than
// the rest of a simulated append. test/storage/sizes.test.ts checks these against the real encoding.
const uintBytes = (n: number) => (n < 128 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : n < 4294967296 ? 5 : 9)
const binHeaderBytes = (n: number) => (n < 256 ? 2 : n < 65536 ? 3 : 5)

/** Encoded size of one entry (as the file Layer stores it and AppendEntries carries it). */
export const entryBytes = (entry: LogEntry): number =>
  1 + uintBytes(entry.index) + uintBytes(entry.term) + 1 + binHeaderBytes(entry.data.length) + entry.data.length

/** Encoded size of one entry, measured by encoding it (the reference for `entryBytes`). */
export const encodedEntryBytes = (entry: LogEntry): number => entryCodec.encode(entry).length

/** Encoded size of a hard state. */
export const hardStateBytes = (hs: HardState): number => hardStateCodec.encode(hs).length

/**
 * Checks that `entries` may be appended to a log whose first index is `firstIndex` and last is
 * `lastIndex`; returns a description of the violation, if any.
 * @internal
 */
export const checkAppendAt = (entries: ReadonlyArray<LogEntry>, firstIndex: number, lastIndex: number): string | undefined => {
  if (entries.length === 0) return undefined
  const first = entries[0]!.index
  if (first < firstIndex) return `append at index ${first} overlaps the snapshot (first index ${firstIndex})`
  if (first > lastIndex + 1) return `append at index ${first} leaves a gap after index ${lastIndex}`
  for (let i = 1; i < entries.length; i++) {
    if (entries[i]!.index !== first + i) return `appended entries are not contiguous at position ${i}`
  }
  return undefined
}

/**
 * The logical contents of a node's storage, with the rules every Layer enforces. The file Layer keeps
 * one as its in-memory mirror and makes each change durable before applying it here.
 * @internal
 */
export class LogModel {
  hardState: HardState = emptyHardState
  snapshot: Snapshot | undefined = undefined
  entries: Array<LogEntry> = []
  private entryByteSum = 0
  private entrySizes: Array<number> = []
  private hardStateSize = hardStateBytes(emptyHardState)

  get firstIndex(): number {
    return (this.snapshot?.index ?? 0) + 1
  }

  get lastIndex(): number {
    return this.entries.length > 0 ? this.entries[this.entries.length - 1]!.index : this.firstIndex - 1
  }

  /** Checks an append against the rules; returns a description of the violation, if any. */
  checkAppend(entries: ReadonlyArray<LogEntry>): string | undefined {
    return checkAppendAt(entries, this.firstIndex, this.lastIndex)
  }

  append(entries: ReadonlyArray<LogEntry>, hardState?: HardState) {
    if (entries.length > 0) {
      const keep = entries[0]!.index - this.firstIndex
      for (let i = keep; i < this.entries.length; i++) this.entryByteSum -= this.entrySizes[i]!
      this.entries.length = keep
      this.entrySizes.length = keep
      for (const e of entries) {
        const size = entryBytes(e)
        this.entries.push(e)
        this.entrySizes.push(size)
        this.entryByteSum += size
      }
    }
    if (hardState !== undefined) this.setHardState(hardState)
  }

  setHardState(hardState: HardState) {
    this.hardState = hardState
    this.hardStateSize = hardStateBytes(hardState)
  }

  installSnapshot(snapshot: Snapshot, discardLog: boolean) {
    if (snapshot.index < (this.snapshot?.index ?? 0)) return
    const drop = discardLog ? this.entries.length : Math.min(this.entries.length, snapshot.index - this.firstIndex + 1)
    for (let i = 0; i < drop; i++) this.entryByteSum -= this.entrySizes[i]!
    this.entries = this.entries.slice(drop)
    this.entrySizes = this.entrySizes.slice(drop)
    this.snapshot = snapshot
  }

  persisted(): Persisted {
    return { hardState: this.hardState, snapshot: this.snapshot, entries: this.entries.slice() }
  }

  sizes(): Sizes {
    return { logBytes: this.hardStateSize + this.entryByteSum, snapshotBytes: this.snapshot?.data.length ?? 0 }
  }

  copy(): LogModel {
    const m = new LogModel()
    m.hardState = this.hardState
    m.snapshot = this.snapshot
    m.entries = this.entries.slice()
    m.entrySizes = this.entrySizes.slice()
    m.entryByteSum = this.entryByteSum
    m.hardStateSize = this.hardStateSize
    return m
  }
}

// -- the memory Layer ---------------------------------------------------------------------------

/** An in-memory storage, plus `copy` (the 6.824 harness hands a restarted node a copy of its persister). */
export interface MemoryStorage extends LogStorageShape {
  /** A new, independent storage with the same contents. */
  readonly copy: Effect.Effect<MemoryStorage>
}

const fromModel = (model: LogModel): MemoryStorage => ({
  load: Effect.sync(() => model.persisted()),
  append: (entries, hardState) =>
    Effect.sync(() => {
      const bad = model.checkAppend(entries)
      if (bad !== undefined) throw new Error(`LogStorage: ${bad}`)
      model.append(entries, hardState)
    }),
  setHardState: (hs) => Effect.sync(() => model.setHardState(hs)),
  installSnapshot: (snapshot, options) => Effect.sync(() => model.installSnapshot(snapshot, options?.discardLog === true)),
  snapshot: Effect.sync(() => model.snapshot),
  sizes: Effect.sync(() => model.sizes()),
  copy: Effect.sync(() => fromModel(model.copy()))
})

/** A new, empty in-memory storage. */
export const makeMemory: Effect.Effect<MemoryStorage> = Effect.sync(() => fromModel(new LogModel()))

/** An empty in-memory storage as a Layer. */
export const layerMemory: Layer.Layer<LogStorage> = Layer.effect(LogStorage, makeMemory)
