/**
 * The logical contents of a node's storage (`LogModel`) and the encoded sizes both storage Layers
 * report. The memory Layer is a `LogModel`; the file Layer keeps one as its in-memory mirror.
 * @internal
 */
import * as Codec from "../../codec/Codec.js"
import type { Sizes } from "../../raft/LogStorage.js"
import { HardStateSchema, LogEntrySchema } from "../../raft/Messages.js"
import { emptyHardState, type HardState, type LogEntry, type Persisted, type Snapshot } from "../../raft/core/types.js"

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
    const logBytes = this.hardStateSize + this.entryByteSum
    const snapshotBytes = this.snapshot?.data.length ?? 0
    return { logBytes, snapshotBytes, diskBytes: logBytes + snapshotBytes }
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

