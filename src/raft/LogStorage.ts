/**
 * `LogStorage`: the durable state of one Raft node — hard state (term, vote, commit), the log
 * entries after the latest snapshot, and that snapshot. The `Raft` service owns it: it is the only
 * reader and writer while a node runs (applications ask `Raft` for `sizes` and the stored snapshot).
 *
 * Every write is durable when its Effect completes (the file Layer has fsynced it), which is what lets
 * Raft acknowledge a vote or an entry only after it is safe. Two Layers implement it:
 * - `MemoryStorage.layer` / `MemoryStorage.make`: for simulation. Built outside a node's scope, its
 *   contents survive the node's "crash" (the scope closing) exactly as a disk would.
 * - `FileStorage.layer`: a segmented write-ahead log with CRCs, group commit and atomic snapshots.
 *
 * Sizes: `logBytes` is the encoded size of the hard state plus the retained entries, and
 * `snapshotBytes` the size of the snapshot's data — the quantities the 6.824 tests bound
 * (`RaftStateSize`, `SnapshotSize`). Both Layers compute them with the same formula. The file Layer
 * also reports `diskBytes`: what its files really take (segments not yet compacted included).
 * @since 0.1.0
 */
import { Context, Data, type Effect } from "effect"
import type { HardState, LogEntry, Persisted, Snapshot } from "./core/types.js"

export { EntryKind, emptyHardState } from "./core/types.js"
export type { HardState, LogEntry, Persisted, Snapshot } from "./core/types.js"

/** Sizes in bytes (see the module comment). */
export interface Sizes {
  /** Encoded hard state plus the retained entries (what `RaftConfig`'s and the 6.824 limits bound). */
  readonly logBytes: number
  /** The snapshot's data. */
  readonly snapshotBytes: number
  /**
   * What the storage really takes: for the file Layer, the bytes of its WAL segments and snapshot
   * files, which include overwritten entries and records not yet compacted away; for memory,
   * `logBytes + snapshotBytes`.
   */
  readonly diskBytes: number
}

/** Counts since the storage was opened, for a metrics endpoint. */
export interface StorageCounters {
  /** Write requests (appends, hard states, snapshots) made durable. */
  readonly writes: number
  /** fsyncs of files and directories (group commit makes it fewer than `writes`); 0 in memory. */
  readonly fsyncs: number
  /** Bytes written to files (records, snapshot files); 0 in memory. */
  readonly bytesWritten: number
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
  /** Counters since the storage was opened. */
  readonly counters: Effect.Effect<StorageCounters>
}

/** The LogStorage service tag. */
export class LogStorage extends Context.Tag("concord/LogStorage")<LogStorage, LogStorageShape>() {}

