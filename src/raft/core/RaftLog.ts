/**
 * The in-memory Raft log: the latest snapshot (index, term, data) and the entries after it.
 * Entry `i` lives at `entries[i - snapshotIndex - 1]`; terms never decrease along the log.
 * @internal
 */
import type { LogEntry, Snapshot } from "./types.js"

/** Per-entry overhead added to `data.length` when sizing a batch (index, term, kind, framing). */
const ENTRY_OVERHEAD_BYTES = 12

export class RaftLog {
  snapshot: Snapshot | undefined
  entries: Array<LogEntry>

  constructor(snapshot: Snapshot | undefined, entries: ReadonlyArray<LogEntry>) {
    this.snapshot = snapshot
    this.entries = entries.slice()
  }

  get snapshotIndex(): number {
    return this.snapshot?.index ?? 0
  }

  get snapshotTerm(): number {
    return this.snapshot?.term ?? 0
  }

  get firstIndex(): number {
    return this.snapshotIndex + 1
  }

  get lastIndex(): number {
    return this.snapshotIndex + this.entries.length
  }

  get lastTerm(): number {
    return this.entries.length > 0 ? this.entries[this.entries.length - 1]!.term : this.snapshotTerm
  }

  /** The term of entry `i`; `undefined` if it was compacted away or does not exist yet. */
  term(i: number): number | undefined {
    const s = this.snapshotIndex
    if (i === s) return this.snapshotTerm
    if (i < s || i > this.lastIndex) return undefined
    return this.entries[i - s - 1]!.term
  }

  entry(i: number): LogEntry | undefined {
    const s = this.snapshotIndex
    return i > s && i <= this.lastIndex ? this.entries[i - s - 1] : undefined
  }

  /** Entries `[lo, hi)`, at most `maxBytes` of them by size but always at least one if any. */
  slice(lo: number, hi: number, maxBytes = Infinity): Array<LogEntry> {
    const s = this.snapshotIndex
    const from = Math.max(lo, s + 1) - s - 1
    const to = Math.min(hi, this.lastIndex + 1) - s - 1
    if (to <= from) return []
    if (maxBytes === Infinity) return this.entries.slice(from, to)
    let bytes = 0
    let end = from
    while (end < to) {
      bytes += this.entries[end]!.data.length + ENTRY_OVERHEAD_BYTES
      if (bytes > maxBytes && end > from) break
      end++
    }
    return this.entries.slice(from, end)
  }

  /**
   * Writes `entries` (contiguous) into the log: entries already present with the same term are kept,
   * the first one that differs truncates the log there (never when all match: a stale or duplicate
   * append must not cut entries that came after it). Returns the index of the first entry written,
   * or undefined if every entry was already present.
   */
  merge(entries: ReadonlyArray<LogEntry>): number | undefined {
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k]!
      if (e.index <= this.snapshotIndex) continue
      if (e.index <= this.lastIndex) {
        if (this.term(e.index) === e.term) continue
        this.entries.length = e.index - this.snapshotIndex - 1
      }
      for (let j = k; j < entries.length; j++) this.entries.push(entries[j]!)
      return e.index
    }
    return undefined
  }

  append(entry: LogEntry) {
    this.entries.push(entry)
  }

  /** Drops the entries covered by a local snapshot at `index` (which must be in the log). */
  compact(snapshot: Snapshot) {
    const drop = Math.min(this.entries.length, snapshot.index - this.snapshotIndex)
    this.entries = this.entries.slice(drop)
    this.snapshot = snapshot
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  restore(snapshot: Snapshot) {
    this.entries = []
    this.snapshot = snapshot
  }

  /** True if a log ending at (lastIndex, lastTerm) is at least as up to date as this one (§5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm || (lastTerm === this.lastTerm && lastIndex >= this.lastIndex)
  }

  /** The first index of the run of entries with term `term` ending at `i` (never below the first index). */
  firstIndexOfTermEndingAt(i: number, term: number): number {
    let j = i
    while (j - 1 > this.snapshotIndex && this.term(j - 1) === term) j--
    return j
  }

  /** The last index holding term `term`, if the retained log has one (terms are sorted: binary search). */
  lastIndexOfTerm(term: number): number | undefined {
    let lo = 0
    let hi = this.entries.length - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const t = this.entries[mid]!.term
      if (t <= term) {
        if (t === term) found = mid
        lo = mid + 1
      } else {
        hi = mid - 1
      }
    }
    return found < 0 ? undefined : this.snapshotIndex + 1 + found
  }
}
