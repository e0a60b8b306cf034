/**
 * The file `LogStorage`: a segmented write-ahead log with a CRC per record, group commit, and atomic
 * snapshot files. The in-memory mirror is a `LogModel`, changed only after the bytes that describe
 * the change are fsynced, so `load`, `snapshot` and `sizes` answer from memory and agree with the
 * memory Layer byte for byte.
 *
 * Layout (see `internal/files.ts`): `wal/` holds segments `0000000000000001.wal`, … of records
 * (`internal/record.ts`), `snap/` the current snapshot file, and `IDENTITY` the cluster and node the
 * directory belongs to, when an identity is configured.
 *
 * **Group commit.** Every write goes through one queue and one writer fiber. The writer takes everything
 * queued, writes it with one `write`, fsyncs once, applies it to the model and then completes each
 * caller: a write's Effect completes only after its fsync, and concurrent callers share one fsync.
 *
 * **A failed write or fsync is final.** It fails every caller of that batch with `StorageError`, and
 * every later write too, until the node is restarted and recovers from what is actually on disk. After
 * a failed fsync the kernel may already have dropped the dirty pages and marked them clean, so a retry
 * could "succeed" over lost data (PostgreSQL's fsync bug, 2018); nothing written afterwards could be
 * trusted to follow it.
 *
 * **Snapshots.** `installSnapshot(s)`:
 * 1. writes `snap/snapshot-<index>-<term>.snap` atomically (temp file, fsync, rename, fsync `snap/`);
 * 2. starts a new segment with `HardState, Snapshot marker, Entries(retained)` in one write, fsyncs it
 *    and `wal/` — the install is durable here, and the caller is answered after step 3;
 * 3. deletes the older segments and snapshot files (housekeeping: a failure is logged, never fatal).
 * Recovery replays from the newest *complete* snapshot segment, whose marker names the snapshot file,
 * so every crash point recovers exactly the old or exactly the new state:
 * - during 1 (temp file only) or after 1 (the new file renamed, no new segment): no marker names the
 *   new file, recovery replays the old segments with the old snapshot, and deletes the unnamed file;
 * - during 2 (a torn new segment): if its three-record opening is incomplete, the segment holds nothing
 *   else (nothing is appended to it before the install completes), so recovery cuts the marker off and
 *   the older segments, all still present, give the old state; if the opening is whole, it is the new
 *   state, and the snapshot file it names was made durable in step 1;
 * - during 3 (some older segments or snapshots left): the complete snapshot segment supersedes all of
 *   them; recovery never reads them and finishes deleting them.
 * This is stricter than applying the newest snapshot file on top of the old segments, which after a
 * crash between 1 and 2 with `discardLog` would keep the old log's conflicting entries after the new
 * snapshot: a state that is neither the old one nor the new one. Reinstalling the snapshot with the
 * same index and term overwrites its file in step 1; Raft snapshots at one index describe the same
 * state-machine state, so the old segments with the new file are still the old state.
 *
 * **One process at a time.** `LOCK` in the directory names the process using it (`internal/lock.ts`):
 * opening a directory another live process has open fails with a `StorageError` naming that process's
 * pid; a lock left by a process that is gone is taken over (logged). The lock is released when the
 * storage's scope closes.
 *
 * **Recovery** (`internal/recovery.ts`, `internal/record.ts`): a torn tail of the last segment is cut
 * off (truncated and fsynced, with a warning saying how many bytes went); any other damage is a
 * `CorruptLog` naming the file and byte offset, and the node refuses to start rather than silently drop
 * acknowledged data.
 *
 * I/O is `@effect/platform`'s `FileSystem` throughout; directories are fsynced by opening them read-only
 * and calling `sync`, which Linux supports.
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { Cause, Clock, Deferred, Effect, Exit, Fiber, FiberId, Layer, Metric, MetricBoundaries, MetricKey, Option, Queue, Scope } from "effect"
import * as os from "node:os"
import * as path from "node:path"
import {
  checkIdentity,
  type Identity,
  io,
  parseSegmentName,
  segmentName,
  snapshotName,
  syncDirectory,
  writeFileAtomic
} from "./internal/files.js"
import * as Bound from "../internal/metrics.js"
import { isProcessAlive } from "../internal/process.js"
import { lockDirectory, type Self } from "./internal/lock.js"
import { recover } from "./internal/recovery.js"
import { encodeRecord, encodeSnapshotFile } from "./internal/record.js"
import type { HardState, LogEntry, Snapshot } from "../raft/core/types.js"
import { type CorruptLog, LogStorage, type LogStorageShape, StorageError } from "../raft/LogStorage.js"
import { checkAppendAt, type LogModel } from "./internal/LogModel.js"

/** Options of a file storage. */
export interface Options {
  /** The node's data directory; created if missing. */
  readonly dir: string
  /** When given, the directory must belong to this node (or to no one yet, and is claimed). */
  readonly identity?: Identity
  /** A segment is closed and a new one begun once it reaches this size. Default 64 MiB. */
  readonly segmentBytes?: number
}

export type { Identity } from "./internal/files.js"

const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024

/**
 * How long each WAL fsync takes, in seconds (one per group-commit batch). An Effect `Metric`: labelled
 * with whatever `Effect.tagMetrics` the storage was opened under (a node labels it with its id).
 */
export const fsyncSecondsKey = MetricKey.histogram(
  "concord_storage_fsync_duration_seconds",
  MetricBoundaries.exponential({ start: 0.0001, factor: 2, count: 16 }),
  "Duration of the write-ahead log's fsyncs (one per group-commit batch)"
)
export const fsyncSeconds = Metric.fromMetricKey(fsyncSecondsKey)

type Request =
  | {
    readonly _tag: "Write"
    readonly bytes: Uint8Array
    readonly apply: (model: LogModel) => void
    readonly done: Deferred.Deferred<void, StorageError>
  }
  | {
    readonly _tag: "Snapshot"
    readonly snapshot: Snapshot
    readonly discardLog: boolean
    readonly file: Uint8Array
    readonly done: Deferred.Deferred<void, StorageError>
  }
type WriteRequest = Extract<Request, { _tag: "Write" }>
type SnapshotRequest = Extract<Request, { _tag: "Snapshot" }>

/** The segment being appended to. */
interface Segment {
  readonly number: number
  readonly path: string
  readonly file: FileSystem.File
  readonly scope: Scope.CloseableScope
  size: number
}

const concat = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (chunks.length === 1) return chunks[0]!
  let n = 0
  for (const c of chunks) n += c.length
  const out = new Uint8Array(n)
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}

const hardStateRecord = (hardState: HardState) => encodeRecord({ _tag: "HardState", hardState })

// This process, for the directory lock.
const self: Self = { pid: process.pid, host: os.hostname(), isAlive: isProcessAlive }

/**
 * Opens (recovering) or creates the storage in `options.dir`. The storage lives until the scope
 * closes, which waits for the batch being written, fails the writes still queued, and closes the files.
 */
export const make = (
  options: Options
): Effect.Effect<LogStorageShape, StorageError | CorruptLog, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    // Labelled with whatever `Effect.tagMetrics` the storage is opened under, bound once (see Bound).
    const fsyncMetric = Bound.bind(fsyncSecondsKey, yield* Bound.currentLabels)
    const dir = options.dir
    const walDir = path.join(dir, "wal")
    const snapDir = path.join(dir, "snap")
    const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES
    if (!(Number.isSafeInteger(segmentBytes) && segmentBytes > 0)) {
      return yield* Effect.dieMessage(`FileStorage: segmentBytes must be a positive integer, got ${segmentBytes}`)
    }

    const existed = yield* fs.exists(dir).pipe(io(dir))
    yield* fs.makeDirectory(dir, { recursive: true }).pipe(io(dir))
    // Before anything is read: what another process has open may change under us. Released last, after
    // the finalizers below (registered later) have stopped the writer and closed the files.
    yield* lockDirectory(fs, dir, self)
    yield* fs.makeDirectory(walDir, { recursive: true }).pipe(io(walDir))
    yield* fs.makeDirectory(snapDir, { recursive: true }).pipe(io(snapDir))
    yield* syncDirectory(fs, dir)
    if (!existed) yield* syncDirectory(fs, path.dirname(path.resolve(dir)))
    if (options.identity !== undefined) yield* checkIdentity(fs, dir, options.identity)

    const recovered = yield* recover(fs, walDir, snapDir)
    const model = recovered.model

    // Opens a segment file in its own scope, closed when the writer moves on to the next segment.
    const openSegment = (number: number, flag: "a" | "ax", size: number) =>
      Effect.gen(function*() {
        const file = path.join(walDir, segmentName(number))
        const scope = yield* Scope.make()
        const handle = yield* Scope.extend(fs.open(file, { flag }), scope).pipe(
          io(file),
          Effect.onError(() => Scope.close(scope, Exit.void))
        )
        const segment: Segment = { number, path: file, file: handle, scope, size }
        return segment
      })

    // Creates segment `number` holding `opening`, durably: the file's data, then its directory entry.
    const createSegment = (number: number, opening: Uint8Array) =>
      Effect.gen(function*() {
        const segment = yield* openSegment(number, "ax", 0)
        yield* Effect.gen(function*() {
          yield* segment.file.writeAll(opening)
          yield* segment.file.sync
        }).pipe(
          io(segment.path),
          Effect.zipRight(syncDirectory(fs, walDir)),
          Effect.onError(() => Scope.close(segment.scope, Exit.void))
        )
        segment.size = opening.length
        return segment
      })

    // The segment being appended to. Its file is closed by this finalizer, which runs after the writer's
    // (registered later) has stopped the writer.
    let segment: Segment = yield* Effect.uninterruptible(
      Effect.tap(
        recovered.last === undefined
          ? createSegment(1, hardStateRecord(model.hardState))
          : openSegment(recovered.last.number, "a", recovered.last.end),
        () => Effect.addFinalizer(() => Scope.close(segment.scope, Exit.void))
      )
    )
    const last = recovered.last
    if (last !== undefined && last.end < last.size) {
      yield* Effect.gen(function*() {
        yield* segment.file.truncate(last.end)
        yield* segment.file.sync
      }).pipe(io(last.path))
      yield* Effect.logWarning(
        `WAL ${last.path}: dropped a torn tail of ${last.size - last.end} bytes at offset ${last.end} ` +
          `(${last.torn ?? "torn write"}); it was never acknowledged`
      )
    }

    // Deleting is housekeeping: recovery never reads superseded files, so a failure only costs space.
    const removeAll = (files: ReadonlyArray<string>) =>
      Effect.forEach(files, (file) =>
        fs.remove(file).pipe(
          Effect.catchAll((e) => Effect.logWarning(`cannot remove ${file}, which is no longer needed: ${e.message}`))
        ), { discard: true })
    yield* removeAll(recovered.obsolete)

    // What the files take, for `sizes().diskBytes`: counted from the directory at open and after each
    // snapshot (which deletes files), and by the bytes written in between.
    const measureDisk = Effect.gen(function*() {
      let total = 0
      for (const d of [walDir, snapDir]) {
        const names = yield* fs.readDirectory(d).pipe(Effect.orElseSucceed(() => []))
        for (const n of names) {
          const info = yield* fs.stat(path.join(d, n)).pipe(Effect.option)
          if (info._tag === "Some") total += Number(info.value.size)
        }
      }
      return total
    })
    let diskBytes = yield* measureDisk
    const counters = { writes: 0, fsyncs: 0, bytesWritten: 0 }

    // -- the writer ------------------------------------------------------------------------------

    const queue = yield* Queue.unbounded<Request>()
    let closed = false
    let failure: StorageError | undefined
    // Where the log will be once everything queued is written: appends are checked against it when
    // they are queued, in queue order, so that a bad append is a defect in its own caller.
    let pendingSnapshotIndex = model.snapshot?.index ?? 0
    let pendingLastIndex = model.lastIndex

    const refuse = (): StorageError | undefined =>
      closed
        ? new StorageError({ path: dir, detail: "the storage is closed" })
        : failure !== undefined
        ? new StorageError({
          path: dir,
          detail: `refusing to write after an earlier write failed (${failure.message}); ` +
            `restart the node to recover from what is on disk`
        })
        : undefined

    // Starts the next segment with `opening`, then closes the current one (all of it is fsynced).
    const roll = (opening: Uint8Array) =>
      Effect.gen(function*() {
        const next = yield* createSegment(segment.number + 1, opening)
        diskBytes += opening.length
        counters.bytesWritten += opening.length
        counters.fsyncs += 2
        const previous = segment
        segment = next
        yield* Scope.close(previous.scope, Exit.void)
      })

    const writeBatch = (batch: ReadonlyArray<WriteRequest>) =>
      Effect.gen(function*() {
        const bytes = concat(batch.map((r) => r.bytes))
        if (bytes.length > 0) {
          if (segment.size >= segmentBytes) {
            // The new segment begins with the hard state before this batch; the batch follows it in the
            // same write.
            yield* roll(concat([hardStateRecord(model.hardState), bytes]))
          } else {
            yield* segment.file.writeAll(bytes).pipe(io(segment.path))
            const syncStart = yield* Clock.currentTimeNanos
            yield* segment.file.sync.pipe(io(segment.path))
            fsyncMetric.update(Number((yield* Clock.currentTimeNanos) - syncStart) / 1e9)
            segment.size += bytes.length
            diskBytes += bytes.length
            counters.bytesWritten += bytes.length
            counters.fsyncs++
          }
        }
        counters.writes += batch.length
        for (const r of batch) r.apply(model)
        for (const r of batch) yield* Deferred.succeed(r.done, undefined)
      })

    const writeSnapshot = (request: SnapshotRequest) =>
      Effect.gen(function*() {
        const { discardLog, snapshot } = request
        // An older snapshot than the current one is ignored, as `LogModel.installSnapshot` does.
        if (snapshot.index >= (model.snapshot?.index ?? 0)) {
          const name = snapshotName(snapshot.index, snapshot.term)
          yield* writeFileAtomic(fs, path.join(snapDir, name), request.file)
          counters.bytesWritten += request.file.length
          counters.fsyncs += 2
          const retained = discardLog ? [] : model.entries.slice(Math.max(0, snapshot.index - model.firstIndex + 1))
          yield* roll(concat([
            hardStateRecord(model.hardState),
            encodeRecord({ _tag: "Snapshot", index: snapshot.index, term: snapshot.term, discardLog }),
            // Written even when empty: a snapshot segment's opening is complete only with it.
            encodeRecord({ _tag: "Entries", entries: retained })
          ]))
          model.installSnapshot(snapshot, discardLog)
          const walNames = yield* fs.readDirectory(walDir).pipe(Effect.orElseSucceed(() => []))
          const snapNames = yield* fs.readDirectory(snapDir).pipe(Effect.orElseSucceed(() => []))
          yield* removeAll([
            ...walNames.filter((n) => (parseSegmentName(n) ?? Infinity) < segment.number).map((n) => path.join(walDir, n)),
            ...snapNames.filter((n) => n.startsWith("snapshot-") && n !== name).map((n) => path.join(snapDir, n))
          ])
          diskBytes = yield* measureDisk
        }
        counters.writes++
        yield* Deferred.succeed(request.done, undefined)
      })

    // Runs one step of the writer; any failure fails its callers and stops all further writes.
    const guarded = (requests: ReadonlyArray<Request>, step: Effect.Effect<void, StorageError>) =>
      Effect.catchAllCause(step, (cause) =>
        Effect.gen(function*() {
          const error = Option.getOrElse(
            Cause.failureOption(cause),
            () => new StorageError({ path: dir, detail: `internal error in the storage writer: ${Cause.pretty(cause)}` })
          )
          failure ??= error
          yield* Effect.logError(`storage ${dir} stops accepting writes`, cause)
          for (const r of requests) yield* Deferred.failCause(r.done, cause)
        }))

    const process = (requests: ReadonlyArray<Request>) =>
      Effect.gen(function*() {
        let i = 0
        while (i < requests.length) {
          const refused = failure === undefined ? undefined : refuse()
          if (refused !== undefined) {
            for (; i < requests.length; i++) yield* Deferred.fail(requests[i]!.done, refused)
            return
          }
          const first = requests[i]!
          if (first._tag === "Snapshot") {
            i++
            yield* guarded([first], writeSnapshot(first))
          } else {
            const batch: Array<WriteRequest> = []
            for (let r = requests[i]; r !== undefined && r._tag === "Write"; r = requests[++i]) batch.push(r)
            yield* guarded(
              batch,
              writeBatch(batch).pipe(
                // No stack capture: it would make an Error per batch.
                Effect.withSpan("FileStorage.commit", { attributes: { writes: batch.length }, captureStackTrace: false })
              )
            )
          }
        }
      })

    // A batch, once taken, is finished even while the storage is closing: its callers get their answer,
    // and the files are never closed under a write or an fsync.
    const writer = Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(restore(Queue.take(queue)), (first) =>
        Effect.flatMap(Queue.takeAll(queue), (rest) => process([first, ...rest])))
    ).pipe(Effect.forever)
    const writerFiber = yield* Effect.forkDaemon(writer)

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        closed = true
        yield* Fiber.interrupt(writerFiber)
        const left = yield* Queue.takeAll(queue)
        const error = refuse()!
        for (const r of left) yield* Deferred.fail(r.done, error)
        yield* Queue.shutdown(queue)
      })
    )

    // Checks, encodes and queues a request in one synchronous step, so that requests from concurrent
    // fibers are checked against the log in the order they are written.
    const submit = (build: () => Request) =>
      Effect.suspend(() => {
        const refused = refuse()
        if (refused !== undefined) return Effect.fail(refused)
        const request = build()
        queue.unsafeOffer(request)
        return Deferred.await(request.done)
      })

    const newDone = () => Deferred.unsafeMake<void, StorageError>(FiberId.none)


    // `append` and `setHardState` are plain functions, not `Effect.fn`: its per-call stack capture and
    // span cost more than the rest of an append put together. The writer's `FileStorage.commit` span
    // (one per batch) traces what matters, the write and fsync.
    const append = (entries: ReadonlyArray<LogEntry>, hardState?: HardState) =>
      submit(() => {
        const bad = checkAppendAt(entries, pendingSnapshotIndex + 1, pendingLastIndex)
        if (bad !== undefined) throw new Error(`LogStorage: ${bad}`)
        const records: Array<Uint8Array> = []
        if (entries.length > 0) records.push(encodeRecord({ _tag: "Entries", entries }))
        if (hardState !== undefined) records.push(hardStateRecord(hardState))
        if (entries.length > 0) pendingLastIndex = entries[entries.length - 1]!.index
        return { _tag: "Write", bytes: concat(records), apply: (m) => m.append(entries, hardState), done: newDone() }
      })

    const setHardState = (hardState: HardState) =>
      submit(() => ({
        _tag: "Write",
        bytes: hardStateRecord(hardState),
        apply: (m) => m.setHardState(hardState),
        done: newDone()
      }))

    const installSnapshot = Effect.fn("FileStorage.installSnapshot")(
      function*(snapshot: Snapshot, options?: { readonly discardLog?: boolean }) {
        const discardLog = options?.discardLog === true
        return yield* submit(() => {
          const file = encodeSnapshotFile(snapshot)
          if (snapshot.index >= pendingSnapshotIndex) {
            pendingSnapshotIndex = snapshot.index
            pendingLastIndex = discardLog ? snapshot.index : Math.max(pendingLastIndex, snapshot.index)
          }
          return { _tag: "Snapshot", snapshot, discardLog, file, done: newDone() }
        })
      }
    )

    const storage: LogStorageShape = {
      load: Effect.sync(() => model.persisted()),
      append,
      setHardState,
      installSnapshot,
      snapshot: Effect.sync(() => model.snapshot),
      sizes: Effect.sync(() => ({ ...model.sizes(), diskBytes })),
      counters: Effect.sync(() => ({ ...counters }))
    }
    return storage
  })

/** The file storage as a Layer. */
export const layer = (options: Options): Layer.Layer<LogStorage, StorageError | CorruptLog, FileSystem.FileSystem> =>
  Layer.scoped(LogStorage, make(options))
