/**
 * Opening a file `LogStorage`: find the segments that matter, verify them, replay them into a
 * `LogModel`, and say what to cut off and what to delete.
 *
 * What is on disk is a sequence of segments; each one is either
 * - a *snapshot segment*, opened by `HardState, Snapshot marker, Entries(retained)`: the whole state
 *   of the node when a snapshot was installed, self-contained (older segments are superseded by it); or
 * - an ordinary segment, opened by `HardState`: segment 1 of a new directory, or the next one after a
 *   full segment. (A crash can leave the last one with less, even empty: it was never acknowledged.)
 *
 * Recovery replays, from an empty model, every record from the newest *complete* snapshot segment on
 * (or from segment 1 when there is none); the marker installs the snapshot file it names. Because each
 * record is replayed through the same `LogModel` operation that it recorded, the result equals the
 * model that was acknowledged, record for record. See `FileStorage.ts` for why every crash point of
 * `installSnapshot` recovers either the old or the new state.
 * @internal
 */
import type { FileSystem } from "@effect/platform"
import { Either, Effect } from "effect"
import * as path from "node:path"
import { CorruptLog, type StorageError } from "../../raft/LogStorage.js"
import { LogModel } from "./LogModel.js"
import { io, parseSegmentName, parseSnapshotName, segmentName, snapshotName, TEMP_SUFFIX } from "./files.js"
import { decodeSnapshotFile, type ScanResult, scan } from "./record.js"

/** What `recover` found. */
export interface Recovered {
  readonly model: LogModel
  /** The last segment (to append to), or undefined for an empty directory. */
  readonly last:
    | {
      readonly number: number
      readonly path: string
      /** Bytes in the file. */
      readonly size: number
      /** End of its last whole record: the file is to be truncated here when smaller than `size`. */
      readonly end: number
      /** Why the bytes after `end` are dropped. */
      readonly torn: string | undefined
    }
    | undefined
  /** Files nothing refers to any more: superseded segments, old or orphaned snapshots, temp files. */
  readonly obsolete: ReadonlyArray<string>
}

interface Segment {
  readonly number: number
  readonly path: string
  readonly size: number
  readonly scan: ScanResult
}

type Opening = "snapshot" | "interrupted-snapshot" | "ordinary"

// How a segment begins. A marker appears only as the second record of a snapshot segment.
const opening = (seg: Segment): Either.Either<Opening, CorruptLog> => {
  const rs = seg.scan.records
  const bad = (i: number, detail: string) =>
    Either.left(new CorruptLog({ file: seg.path, offset: rs[i]!.offset, detail }))
  if (rs.length > 0 && rs[0]!.record._tag === "Snapshot") return bad(0, "a segment begins with a snapshot marker")
  if (rs.length < 2 || rs[1]!.record._tag !== "Snapshot") return Either.right("ordinary")
  if (rs.length === 2) return Either.right("interrupted-snapshot")
  if (rs[2]!.record._tag !== "Entries") return bad(2, "a snapshot marker is not followed by the retained entries")
  return Either.right("snapshot")
}

/**
 * Reads the WAL and snapshot directories. Fails with `CorruptLog` on damage that truncation cannot
 * repair; nothing on disk is changed here.
 */
export const recover = (
  fs: FileSystem.FileSystem,
  walDir: string,
  snapDir: string
): Effect.Effect<Recovered, StorageError | CorruptLog> =>
  Effect.gen(function*() {
    const numbers = (yield* fs.readDirectory(walDir).pipe(io(walDir)))
      .flatMap((name) => {
        const n = parseSegmentName(name)
        return n === undefined ? [] : [n]
      })
      .sort((a, b) => a - b)
    const snapFiles = (yield* fs.readDirectory(snapDir).pipe(io(snapDir)))
      .filter((name) => parseSnapshotName(name.endsWith(TEMP_SUFFIX) ? name.slice(0, -TEMP_SUFFIX.length) : name))
    const snapshotsExcept = (keep: string | undefined) =>
      snapFiles.filter((name) => name !== keep).map((name) => path.join(snapDir, name))

    if (numbers.length === 0) {
      const orphan = snapFiles.find((name) => !name.endsWith(TEMP_SUFFIX))
      if (orphan !== undefined) {
        return yield* new CorruptLog({
          file: walDir,
          offset: 0,
          detail: `no WAL segments, yet snapshot ${orphan} exists: the WAL has been removed`
        })
      }
      return { model: new LogModel(), last: undefined, obsolete: snapshotsExcept(undefined) }
    }

    // Newest first, down to the newest complete snapshot segment: older ones are superseded by it.
    const used: Array<Segment> = []
    let fromSnapshot = false
    for (let i = numbers.length - 1; i >= 0 && !fromSnapshot; i--) {
      const number = numbers[i]!
      const file = path.join(walDir, segmentName(number))
      const bytes = yield* fs.readFile(file).pipe(io(file))
      const isLast = i === numbers.length - 1
      const scanned = scan(bytes, isLast)
      if (Either.isLeft(scanned)) return yield* new CorruptLog({ file, ...scanned.left })
      let seg: Segment = { number, path: file, size: bytes.length, scan: scanned.right }
      const kind = yield* opening(seg)
      if (kind === "snapshot") fromSnapshot = true
      if (kind === "interrupted-snapshot") {
        // The opening of a snapshot segment is written by one write and acknowledged only after its
        // fsync, and nothing else is written to the segment before that: a marker without its entries
        // is the torn opening of an installSnapshot that never completed. Cut it off, keeping the hard
        // state before it (the current one anyway); the older segments still hold the old state.
        if (!isLast) {
          return yield* new CorruptLog({
            file,
            offset: seg.scan.records[1]!.end,
            detail: "a snapshot marker is not followed by the retained entries"
          })
        }
        const first = seg.scan.records[0]!
        seg = {
          ...seg,
          scan: {
            records: [first],
            end: first.end,
            torn: "the opening of an interrupted installSnapshot (a snapshot marker without its entries)"
          }
        }
      }
      used.unshift(seg)
    }

    const oldest = used[0]!
    if (!fromSnapshot && oldest.number !== 1) {
      return yield* new CorruptLog({
        file: oldest.path,
        offset: 0,
        detail: `segments before ${segmentName(oldest.number)} are missing and it does not begin with a snapshot`
      })
    }
    for (let k = 1; k < used.length; k++) {
      if (used[k]!.number !== used[k - 1]!.number + 1) {
        return yield* new CorruptLog({
          file: used[k]!.path,
          offset: 0,
          detail: `the segment before it, ${segmentName(used[k - 1]!.number + 1)}, is missing`
        })
      }
    }

    const model = new LogModel()
    let snapshotFile: string | undefined
    for (const [k, seg] of used.entries()) {
      for (const [j, { offset, record }] of seg.scan.records.entries()) {
        switch (record._tag) {
          case "HardState":
            model.setHardState(record.hardState)
            break
          case "Entries": {
            const bad = model.checkAppend(record.entries)
            if (bad !== undefined) return yield* new CorruptLog({ file: seg.path, offset, detail: `entries out of place: ${bad}` })
            model.append(record.entries)
            break
          }
          case "Snapshot": {
            if (!(fromSnapshot && k === 0 && j === 1)) {
              return yield* new CorruptLog({ file: seg.path, offset, detail: "a snapshot marker outside a segment opening" })
            }
            const name = snapshotName(record.index, record.term)
            const file = path.join(snapDir, name)
            if (!snapFiles.includes(name)) {
              return yield* new CorruptLog({
                file,
                offset: 0,
                detail: `the snapshot file is missing, though ${segmentName(seg.number)} refers to it`
              })
            }
            const decoded = decodeSnapshotFile(yield* fs.readFile(file).pipe(io(file)))
            if (Either.isLeft(decoded)) return yield* new CorruptLog({ file, ...decoded.left })
            const snapshot = decoded.right
            if (snapshot.index !== record.index || snapshot.term !== record.term) {
              return yield* new CorruptLog({
                file,
                offset: 0,
                detail: `it holds the snapshot at index ${snapshot.index}, term ${snapshot.term}, not the one its name says`
              })
            }
            model.installSnapshot(snapshot, record.discardLog)
            snapshotFile = name
            break
          }
        }
      }
    }

    const last = used[used.length - 1]!
    return {
      model,
      last: { number: last.number, path: last.path, size: last.size, end: last.scan.end, torn: last.scan.torn },
      obsolete: [
        ...numbers.filter((n) => n < oldest.number).map((n) => path.join(walDir, segmentName(n))),
        ...snapshotsExcept(snapshotFile)
      ]
    }
  })
