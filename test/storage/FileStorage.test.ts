import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { it } from "@effect/vitest"
import { Cause, Effect, Either, Exit, Logger, Option, Scope } from "effect"
import * as fc from "fast-check"
import { spawnSync } from "node:child_process"
import { hostname } from "node:os"
import * as path from "node:path"
import { describe, expect, it as vit } from "vitest"
import * as FileStorage from "../../src/storage/FileStorage.js"
import { segmentName } from "../../src/storage/internal/files.js"
import {
  decodeSnapshotFile,
  encodeRecord,
  encodeRecordWithSchema,
  encodeSnapshotFile,
  scan,
  type WalRecord
} from "../../src/storage/internal/record.js"
import type { HardState, LogEntry, Persisted, Snapshot } from "../../src/raft/core/types.js"
import { CorruptLog, type LogStorageShape, StorageError } from "../../src/raft/LogStorage.js"
import { LogModel } from "../../src/storage/internal/LogModel.js"
import { noFaults, withFaults } from "../support/walFaults.js"
import { entry, storageSuite } from "./suite.js"

// -- harness -------------------------------------------------------------------------------------

storageSuite("file", () =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "concord-storage-" })
    return { open: FileStorage.make({ dir }).pipe(Effect.provideService(FileSystem.FileSystem, fs)) }
  }).pipe(Effect.provide(NodeFileSystem.layer)))

// What the storage logged during the current test (tests in a file run one at a time).
const logs: Array<string> = []
const captureLogs = Logger.replace(
  Logger.defaultLogger,
  Logger.make(({ logLevel, message }) => {
    logs.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
  })
)

const test = (title: string, body: Effect.Effect<void, unknown, FileSystem.FileSystem | Scope.Scope>) =>
  it.scopedLive(title, () =>
    Effect.sync(() => logs.splice(0)).pipe(
      Effect.zipRight(body),
      Effect.provide(NodeFileSystem.layer),
      Effect.provide(captureLogs)
    ))

const tempDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "concord-storage-" }))

/** Opens the storage in `dir`, runs `body`, closes it (a clean stop). */
const withStorage = <A, E, R>(
  options: FileStorage.Options,
  body: (s: LogStorageShape) => Effect.Effect<A, E, R>
) => Effect.scoped(Effect.flatMap(FileStorage.make(options), body))

/** What opening `dir` fails with (or a test failure if it opens). */
const openFailure = (options: FileStorage.Options) =>
  Effect.flip(withStorage(options, (s) => s.load)).pipe(
    Effect.catchAllDefect((d) => Effect.die(`expected a typed failure, got defect ${String(d)}`))
  )

const loadOf = (options: FileStorage.Options) => withStorage(options, (s) => s.load)

const bytes = (...xs: ReadonlyArray<number>) => new Uint8Array(xs)
const range = (from: number, to: number, term: number): Array<LogEntry> =>
  Array.from({ length: to - from + 1 }, (_, i) => entry(from + i, term))

/** A step of a scripted history, applied to the storage and to a reference model alike. */
type Op =
  | { readonly op: "append"; readonly entries: ReadonlyArray<LogEntry>; readonly hardState?: HardState }
  | { readonly op: "hard"; readonly hardState: HardState }
  | { readonly op: "snap"; readonly snapshot: Snapshot; readonly discardLog: boolean }

const run = (s: LogStorageShape, op: Op) =>
  op.op === "append"
    ? s.append(op.entries, op.hardState)
    : op.op === "hard"
    ? s.setHardState(op.hardState)
    : s.installSnapshot(op.snapshot, { discardLog: op.discardLog })

const modelOf = (ops: ReadonlyArray<Op>): Persisted => {
  const m = new LogModel()
  for (const op of ops) {
    if (op.op === "append") m.append(op.entries, op.hardState)
    else if (op.op === "hard") m.setHardState(op.hardState)
    else m.installSnapshot(op.snapshot, op.discardLog)
  }
  return m.persisted()
}

const segmentPath = (dir: string, n: number) => path.join(dir, "wal", segmentName(n))
const listDir = (dir: string) => Effect.flatMap(FileSystem.FileSystem, (fs) => Effect.map(fs.readDirectory(dir), (xs) => xs.sort()))

/** Record boundaries of a segment, from the scanner itself. */
const recordOffsets = (file: Uint8Array) => {
  const scanned = scan(file, true)
  if (Either.isLeft(scanned)) throw new Error(scanned.left.detail)
  return scanned.right.records
}

// -- a FileSystem that counts fsyncs and can fail on demand ---------------------------------------

// -- the record format ------------------------------------------------------------------------------

describe("FileStorage records", () => {
  const nat = fc.nat({ max: Number.MAX_SAFE_INTEGER })
  const record: fc.Arbitrary<WalRecord> = fc.oneof(
    fc.record({ term: nat, vote: fc.option(fc.string(), { nil: null }), commit: nat, rejoin: nat }, {
      requiredKeys: ["term", "vote", "commit"]
    }).map((hardState) => ({ _tag: "HardState" as const, hardState })),
    fc.array(fc.record({ index: nat, term: nat, kind: fc.constantFrom(0 as const, 1 as const, 2 as const), data: fc.uint8Array() }))
      .map((entries) => ({ _tag: "Entries" as const, entries })),
    fc.record({ index: nat, term: nat, discardLog: fc.boolean() }).map((m) => ({ _tag: "Snapshot" as const, ...m }))
  )

  vit("the hand-written encoding is the Schema's, and decodes back", () =>
    fc.assert(fc.property(record, (r) => {
      const bytes = encodeRecord(r)
      expect(bytes).toEqual(encodeRecordWithSchema(r))
      expect(recordOffsets(bytes).map((x) => x.record)).toEqual([r])
    }), { numRuns: 300 }))

  vit("a snapshot file keeps the configuration at its index; one without (an older file) decodes without", () => {
    const membership = { voters: ["a", "b"], learners: ["c"], addresses: { c: "127.0.0.1:7003" } }
    const withConfig: Snapshot = { index: 7, term: 2, data: bytes(1, 2), membership }
    expect(Either.getOrThrow(decodeSnapshotFile(encodeSnapshotFile(withConfig)))).toEqual(withConfig)
    const without: Snapshot = { index: 7, term: 2, data: bytes(1, 2) }
    const decoded = Either.getOrThrow(decodeSnapshotFile(encodeSnapshotFile(without)))
    expect(decoded).toEqual(without)
    expect("membership" in decoded).toBe(false)
  })

  vit("values the Schema rejects are rejected before they reach the disk", () => {
    const bad: ReadonlyArray<WalRecord> = [
      { _tag: "HardState", hardState: { term: -1, vote: null, commit: 0 } },
      { _tag: "HardState", hardState: { term: 1, vote: null, commit: 0.5 } },
      { _tag: "Entries", entries: [{ index: 1, term: Number.NaN, kind: 0, data: bytes() }] },
      { _tag: "Entries", entries: [{ index: 1, term: 1, kind: 3 as 0, data: bytes() }] },
      { _tag: "HardState", hardState: { term: 1, vote: null, commit: 0, rejoin: -1 } },
      { _tag: "Snapshot", index: 2 ** 53, term: 1, discardLog: false }
    ]
    for (const r of bad) {
      expect(() => encodeRecordWithSchema(r)).toThrow()
      expect(() => encodeRecord(r)).toThrow(/LogStorage: invalid/)
    }
  })
})

// -- torn tails ------------------------------------------------------------------------------------

describe("FileStorage recovery", () => {
  const history: ReadonlyArray<Op> = [
    { op: "append", entries: range(1, 3, 1), hardState: { term: 1, vote: "n1", commit: 0 } },
    { op: "hard", hardState: { term: 2, vote: null, commit: 2 } },
    { op: "append", entries: range(4, 5, 2) },
    { op: "append", entries: [entry(5, 3, bytes(1, 2, 3, 4, 5, 6, 7, 8)), entry(6, 3, bytes(9, 9))] }
  ]

  test("a WAL cut at every byte offset of its last record recovers exactly the records before it", Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* tempDir
    yield* withStorage({ dir }, (s) => Effect.forEach(history, (op) => run(s, op), { discard: true }))
    const file = segmentPath(dir, 1)
    const whole = yield* fs.readFile(file)
    const records = recordOffsets(whole)
    expect(records.length).toBe(6) // opening hard state, entries + hard state, hard state, entries, entries
    const lastStart = records[records.length - 1]!.offset
    const before = modelOf(history.slice(0, -1))
    const after = modelOf(history)
    expect(yield* loadOf({ dir })).toEqual(after)

    for (let cut = lastStart; cut < whole.length; cut++) {
      const copy = yield* tempDir
      yield* fs.makeDirectory(path.join(copy, "wal"))
      yield* fs.writeFile(segmentPath(copy, 1), whole.subarray(0, cut))
      logs.splice(0)
      expect(yield* loadOf({ dir: copy }), `cut at ${cut}`).toEqual(before)
      expect(logs, `cut at ${cut}`).toEqual(
        cut === lastStart ? [] : [expect.stringContaining(`dropped a torn tail of ${cut - lastStart} bytes at offset ${lastStart}`)]
      )
      expect(Number((yield* fs.stat(segmentPath(copy, 1))).size), `size after a cut at ${cut}`).toBe(lastStart)
      // Appending works after the repair and survives another reopen.
      yield* withStorage({ dir: copy }, (s) => run(s, history[history.length - 1]!))
      expect(yield* loadOf({ dir: copy }), `cut at ${cut}, appended again`).toEqual(after)
    }
  }))

  test("trailing zero bytes and a checksum mismatch in the final record are torn tails", Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* tempDir
    yield* withStorage({ dir }, (s) => Effect.forEach(history, (op) => run(s, op), { discard: true }))
    const file = segmentPath(dir, 1)
    const whole = yield* fs.readFile(file)
    const lastStart = recordOffsets(whole).at(-1)!.offset

    const zeros = new Uint8Array(whole.length + 4096)
    zeros.set(whole)
    yield* fs.writeFile(file, zeros)
    expect(yield* loadOf({ dir })).toEqual(modelOf(history))
    expect(Number((yield* fs.stat(file)).size)).toBe(whole.length)
    expect(logs.at(-1)).toContain("WARN")
    expect(logs.at(-1)).toContain(`dropped a torn tail of 4096 bytes at offset ${whole.length} (4096 trailing zero bytes)`)

    const flipped = Uint8Array.from(whole)
    flipped[whole.length - 1]! ^= 0xff
    yield* fs.writeFile(file, flipped)
    expect(yield* loadOf({ dir })).toEqual(modelOf(history.slice(0, -1)))
    expect(Number((yield* fs.stat(file)).size)).toBe(lastStart)
  }))

  test("a flipped byte in the middle of the log is a CorruptLog naming the file and offset", Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* tempDir
    yield* withStorage({ dir }, (s) => Effect.forEach(history, (op) => run(s, op), { discard: true }))
    const file = segmentPath(dir, 1)
    const whole = yield* fs.readFile(file)
    const victim = recordOffsets(whole)[3]!
    const damaged = Uint8Array.from(whole)
    damaged[victim.offset + 10]! ^= 0x01
    yield* fs.writeFile(file, damaged)

    const error = yield* openFailure({ dir })
    expect(error).toBeInstanceOf(CorruptLog)
    expect(error).toMatchObject({ file, offset: victim.offset })
    expect(error.message).toContain(`corrupt log in ${file} at byte ${victim.offset}: checksum mismatch`)
    // Nothing was repaired: the file is as it was.
    expect(new Uint8Array(yield* fs.readFile(file))).toEqual(damaged)
  }))

  test("a torn shape in a segment that is not the last is a CorruptLog", Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* tempDir
    yield* withStorage(
      { dir, segmentBytes: 40 },
      (s) => Effect.forEach(range(1, 6, 1), (e) => s.append([e]), { discard: true })
    )
    expect((yield* listDir(path.join(dir, "wal"))).length).toBeGreaterThan(2)
    const file = segmentPath(dir, 1)
    const whole = yield* fs.readFile(file)
    yield* fs.writeFile(file, whole.subarray(0, whole.length - 1))
    const error = yield* openFailure({ dir })
    expect(error).toBeInstanceOf(CorruptLog)
    expect(error).toMatchObject({ file, offset: recordOffsets(whole).at(-1)!.offset })
    expect(error.message).toContain("not the last")
  }))

  test("a missing segment in the middle is a CorruptLog", Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* tempDir
    yield* withStorage(
      { dir, segmentBytes: 40 },
      (s) => Effect.forEach(range(1, 6, 1), (e) => s.append([e]), { discard: true })
    )
    yield* fs.remove(segmentPath(dir, 2))
    const error = yield* openFailure({ dir })
    expect(error).toMatchObject({ _tag: "CorruptLog", file: segmentPath(dir, 3) })
    expect(error.message).toContain(`${segmentName(2)}, is missing`)
  }))

  test("a corrupt snapshot file is a CorruptLog naming it; a missing one too", Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* tempDir
    yield* withStorage({ dir }, (s) =>
      Effect.gen(function*() {
        yield* s.append(range(1, 5, 1))
        yield* s.installSnapshot({ index: 3, term: 1, data: bytes(7, 7, 7, 7) })
      }))
    const file = path.join(dir, "snap", "snapshot-3-1.snap")
    const good = yield* fs.readFile(file)
    const damaged = Uint8Array.from(good)
    damaged[damaged.length - 2]! ^= 0x40
    yield* fs.writeFile(file, damaged)
    const error = yield* openFailure({ dir })
    expect(error).toBeInstanceOf(CorruptLog)
    expect(error).toMatchObject({ file, offset: 0 })
    expect(error.message).toContain(`corrupt log in ${file} at byte 0: checksum mismatch`)

    yield* fs.writeFile(file, good.subarray(0, good.length - 1))
    expect((yield* openFailure({ dir })).message).toContain("header announces")

    yield* fs.remove(file)
    const missing = yield* openFailure({ dir })
    expect(missing).toMatchObject({ _tag: "CorruptLog", file })
    expect(missing.message).toContain("missing")
  }))
})

// -- installSnapshot crash points -------------------------------------------------------------------

describe("FileStorage installSnapshot is atomic at every crash point", () => {
  const copyDir = (from: string) =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const to = path.join(yield* tempDir, "data")
      yield* fs.copy(from, to)
      return to
    })

  for (const discardLog of [false, true]) {
    test(`discardLog=${discardLog}`, Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const segmentBytes = 60
      const history: Array<Op> = [
        { op: "append", entries: range(1, 4, 1), hardState: { term: 1, vote: "n1", commit: 2 } },
        { op: "snap", snapshot: { index: 2, term: 1, data: bytes(2, 2) }, discardLog: false },
        { op: "append", entries: range(5, 7, 2), hardState: { term: 2, vote: "n2", commit: 5 } },
        { op: "append", entries: range(8, 9, 2) },
        { op: "append", entries: range(10, 11, 2) },
        { op: "append", entries: range(12, 13, 3) },
        { op: "append", entries: range(14, 15, 3) }
      ]
      const install: Op = { op: "snap", snapshot: { index: 8, term: 3, data: bytes(8, 8, 8) }, discardLog }
      const oldState = modelOf(history)
      expect(modelOf([...history, install]).entries.length).toBe(discardLog ? 0 : 7)

      // `before`: the directory just before the install; `after`: the same directory just after it.
      const after = path.join(yield* tempDir, "data")
      yield* withStorage({ dir: after, segmentBytes }, (s) => Effect.forEach(history, (op) => run(s, op), { discard: true }))
      const before = yield* copyDir(after)
      yield* withStorage({ dir: after, segmentBytes }, (s) => run(s, install))
      const beforeWal = yield* listDir(path.join(before, "wal"))
      const afterWal = yield* listDir(path.join(after, "wal"))
      expect(beforeWal.length).toBeGreaterThan(2)
      expect(afterWal).toEqual([segmentName(Number(beforeWal.at(-1)!.slice(0, 16)) + 1)])
      expect(yield* listDir(path.join(after, "snap"))).toEqual(["snapshot-8-3.snap"])
      expect(yield* listDir(path.join(before, "snap"))).toEqual(["snapshot-2-1.snap"])
      const newSnap = yield* fs.readFile(path.join(after, "snap", "snapshot-8-3.snap"))
      const newSeg = yield* fs.readFile(path.join(after, "wal", afterWal[0]!))

      // Opens `dir` expecting the state `ops` describe; recovery must have cleaned up, and the storage
      // must go on working from there.
      const check = (label: string, dir: string, ops: ReadonlyArray<Op>) =>
        Effect.gen(function*() {
          const expected = modelOf(ops)
          expect(yield* loadOf({ dir, segmentBytes }), label).toEqual(expected)
          const snaps = yield* listDir(path.join(dir, "snap"))
          expect(snaps, label).toEqual([`snapshot-${expected.snapshot!.index}-${expected.snapshot!.term}.snap`])
          const next = (expected.entries.at(-1)?.index ?? expected.snapshot!.index) + 1
          const more: Op = { op: "append", entries: [entry(next, 4)], hardState: { term: 4, vote: null, commit: 8 } }
          yield* withStorage({ dir, segmentBytes }, (s) => run(s, more))
          expect(yield* loadOf({ dir, segmentBytes }), `${label}, then appended`).toEqual(modelOf([...ops, more]))
        })
      const oldOps = history
      const newOps = [...history, install]

      // 1. Only the temp file of the new snapshot.
      const tempOnly = yield* copyDir(before)
      yield* fs.writeFile(path.join(tempOnly, "snap", "snapshot-8-3.snap.tmp"), newSnap.subarray(0, 5))
      yield* check("temp file only", tempOnly, oldOps)

      // 2. The new snapshot renamed into place, no new segment yet.
      const renamed = yield* copyDir(before)
      yield* fs.writeFile(path.join(renamed, "snap", "snapshot-8-3.snap"), newSnap)
      yield* check("renamed snapshot, no new segment", renamed, oldOps)

      // 3. The new segment torn at every byte of its opening: the old state until it is whole.
      // Recovery changes only these two files here (it cuts the segment, deletes the unnamed snapshot),
      // so one copy of `before` serves every cut.
      const torn = yield* copyDir(before)
      for (let cut = 0; cut < newSeg.length; cut++) {
        yield* fs.writeFile(path.join(torn, "snap", "snapshot-8-3.snap"), newSnap)
        yield* fs.writeFile(path.join(torn, "wal", afterWal[0]!), newSeg.subarray(0, cut))
        expect(yield* loadOf({ dir: torn, segmentBytes }), `new segment cut at ${cut}`).toEqual(oldState)
      }
      for (const cut of [0, newSeg.length - 1]) {
        const tornThenUsed = yield* copyDir(before)
        yield* fs.writeFile(path.join(tornThenUsed, "snap", "snapshot-8-3.snap"), newSnap)
        yield* fs.writeFile(path.join(tornThenUsed, "wal", afterWal[0]!), newSeg.subarray(0, cut))
        yield* check(`new segment cut at ${cut}`, tornThenUsed, oldOps)
      }

      // 4. The new segment whole, nothing deleted yet.
      const undeleted = yield* copyDir(before)
      yield* fs.writeFile(path.join(undeleted, "snap", "snapshot-8-3.snap"), newSnap)
      yield* fs.writeFile(path.join(undeleted, "wal", afterWal[0]!), newSeg)
      yield* check("new segment, no deletions", undeleted, newOps)
      expect((yield* listDir(path.join(undeleted, "wal"))).filter((n) => beforeWal.includes(n))).toEqual([])

      // 5. Deletion interrupted, oldest first or newest first, old snapshot still there.
      for (const kept of [beforeWal.slice(1), beforeWal.slice(0, 1)]) {
        const partial = yield* copyDir(after)
        for (const name of kept) yield* fs.copyFile(path.join(before, "wal", name), path.join(partial, "wal", name))
        yield* fs.copyFile(path.join(before, "snap", "snapshot-2-1.snap"), path.join(partial, "snap", "snapshot-2-1.snap"))
        yield* check(`deletion interrupted, kept ${kept.join(",")}`, partial, newOps)
        expect((yield* listDir(path.join(partial, "wal"))).filter((n) => beforeWal.includes(n))).toEqual([])
      }
    }))
  }
})

// -- group commit, failures, segments, identity -------------------------------------------------------

describe("FileStorage writes", () => {
  test("diskBytes counts what the files take: overwritten entries until a snapshot compacts them", Effect.gen(function*() {
    const dir = yield* tempDir
    const big = (index: number, term: number): LogEntry => ({ index, term, kind: 0, data: new Uint8Array(1000) })
    yield* withStorage({ dir }, (s) =>
      Effect.gen(function*() {
        for (let term = 1; term <= 5; term++) yield* s.append([1, 2, 3].map((i) => big(i, term)))
        const rewritten = yield* s.sizes
        // Five writes of the same three indices: the log holds three entries, the WAL all fifteen.
        expect(rewritten.logBytes).toBeLessThan(3 * 1100)
        expect(rewritten.diskBytes).toBeGreaterThan(15 * 1000)
        yield* s.installSnapshot({ index: 3, term: 5, data: new Uint8Array(10) })
        const compacted = yield* s.sizes
        expect(compacted.diskBytes).toBeLessThan(1000)
        expect(compacted.diskBytes).toBeGreaterThan(compacted.snapshotBytes)
      }))
    // Reopened, it measures the directory again.
    const reopened = yield* withStorage({ dir }, (s) => s.sizes)
    expect(reopened.diskBytes).toBeLessThan(1000)
  }))

  test("concurrent appends share fsyncs; sequential appends fsync each", Effect.gen(function*() {
    const dir = yield* tempDir
    const faults = noFaults()
    const n = 32
    yield* withFaults(faults, withStorage({ dir }, (s) =>
      Effect.gen(function*() {
        faults.syncs = 0
        yield* Effect.forEach(range(1, n, 1), (e) => s.append([e]), { concurrency: "unbounded", discard: true })
        const concurrentSyncs = faults.syncs
        expect(concurrentSyncs).toBeGreaterThanOrEqual(1)
        expect(concurrentSyncs).toBeLessThan(n / 4)

        faults.syncs = 0
        yield* Effect.forEach(range(n + 1, 2 * n, 1), (e) => s.append([e]), { discard: true })
        expect(faults.syncs).toBe(n)
        expect((yield* s.load).entries.map((e) => e.index)).toEqual(range(1, 2 * n, 1).map((e) => e.index))
      })))
    expect((yield* loadOf({ dir })).entries.length).toBe(2 * n)
  }))

  test("writes and snapshots queued together are applied in queue order", Effect.gen(function*() {
    const dir = yield* tempDir
    const ops: ReadonlyArray<Op> = [
      { op: "append", entries: range(1, 3, 1) },
      { op: "append", entries: range(4, 6, 1), hardState: { term: 1, vote: "n1", commit: 3 } },
      { op: "snap", snapshot: { index: 4, term: 1, data: bytes(4) }, discardLog: false },
      { op: "append", entries: range(6, 8, 2) },
      { op: "hard", hardState: { term: 2, vote: null, commit: 6 } },
      { op: "snap", snapshot: { index: 2, term: 1, data: bytes(2) }, discardLog: false },
      { op: "append", entries: range(9, 9, 2) },
      { op: "snap", snapshot: { index: 9, term: 2, data: bytes(9) }, discardLog: true },
      { op: "append", entries: range(10, 12, 3) }
    ]
    yield* withStorage({ dir, segmentBytes: 64 }, (s) =>
      Effect.gen(function*() {
        yield* Effect.forEach(ops, (op) => run(s, op), { concurrency: "unbounded", discard: true })
        expect(yield* s.load).toEqual(modelOf(ops))
      }))
    expect(yield* loadOf({ dir })).toEqual(modelOf(ops))
  }))

  test("a failed fsync fails its whole batch and every later write; a restart recovers", Effect.gen(function*() {
    const dir = yield* tempDir
    const faults = noFaults()
    yield* withFaults(faults, withStorage({ dir }, (s) =>
      Effect.gen(function*() {
        yield* s.append(range(1, 2, 1))
        faults.failSync = true
        const batch = yield* Effect.forEach(
          [[entry(3, 1)], [entry(4, 1)], [entry(5, 1)]],
          (es) => Effect.either(s.append(es)),
          { concurrency: "unbounded" }
        )
        for (const r of batch) {
          expect(Either.isLeft(r)).toBe(true)
          expect(Either.getLeft(r).pipe(Option.getOrThrow)).toBeInstanceOf(StorageError)
        }
        faults.failSync = false
        const later = yield* Effect.flip(s.setHardState({ term: 9, vote: null, commit: 0 }))
        expect(later.message).toContain("refusing to write after an earlier write failed")
        expect(logs).toContainEqual(expect.stringMatching(/^ERROR storage .* stops accepting writes/))
        // What was acknowledged is still readable.
        expect((yield* s.load).entries.map((e) => e.index)).toEqual([1, 2])
      })))
    // The failed batch reached the page cache, so it may be found after the restart: either is correct.
    const after = yield* loadOf({ dir })
    expect([[1, 2], [1, 2, 3, 4, 5]]).toContainEqual(after.entries.map((e) => e.index))
    expect(after.hardState.term).toBe(0)
  }))

  test("a failed write fails the caller with StorageError", Effect.gen(function*() {
    const dir = yield* tempDir
    const faults = noFaults()
    yield* withFaults(faults, withStorage({ dir }, (s) =>
      Effect.gen(function*() {
        faults.failWrite = true
        const error = yield* Effect.flip(s.append([entry(1, 1)]))
        expect(error).toBeInstanceOf(StorageError)
        expect(error.message).toContain("EIO (injected)")
      })))
    expect(yield* loadOf({ dir })).toEqual(modelOf([]))
  }))

  test("writes after close fail with StorageError", Effect.gen(function*() {
    const dir = yield* tempDir
    const scope = yield* Scope.make()
    const s = yield* Scope.extend(FileStorage.make({ dir }), scope)
    yield* s.append([entry(1, 1)])
    yield* Scope.close(scope, Exit.void)
    const error = yield* Effect.flip(s.append([entry(2, 1)]))
    expect(error.message).toContain("closed")
  }))

  test("an invalid append (gap, bad entry) dies in its caller without reaching the disk", Effect.gen(function*() {
    const dir = yield* tempDir
    yield* withStorage({ dir }, (s) =>
      Effect.gen(function*() {
        yield* s.append(range(1, 2, 1))
        const exit = yield* Effect.exit(s.append([entry(4, 1)]))
        expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
        const invalid = yield* Effect.exit(s.append([entry(3, -1)]))
        expect(Exit.isFailure(invalid) && Cause.isDie(invalid.cause)).toBe(true)
        yield* s.append([entry(3, 1)])
      }))
    expect((yield* loadOf({ dir })).entries.map((e) => e.index)).toEqual([1, 2, 3])
  }))

  test("segments roll at segmentBytes, each beginning with the hard state; a snapshot deletes the old ones", Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* tempDir
    const segmentBytes = 100
    const ops: Array<Op> = []
    for (let i = 1; i <= 60; i++) {
      ops.push({ op: "append", entries: [entry(i, 1 + Math.floor(i / 20))], hardState: { term: 1 + Math.floor(i / 20), vote: "n1", commit: i - 1 } })
    }
    yield* withStorage({ dir, segmentBytes }, (s) => Effect.forEach(ops, (op) => run(s, op), { discard: true }))
    const names = yield* listDir(path.join(dir, "wal"))
    expect(names.length).toBeGreaterThan(10)
    expect(names).toEqual(names.map((_, i) => segmentName(i + 1)))
    for (const name of names.slice(1)) {
      const records = recordOffsets(yield* fs.readFile(path.join(dir, "wal", name)))
      expect(records[0]!.record._tag).toBe("HardState")
    }
    for (const name of names.slice(0, -1)) {
      // A segment is rolled once full, so none exceeds the limit by more than one batch.
      expect(Number((yield* fs.stat(path.join(dir, "wal", name))).size)).toBeLessThan(segmentBytes + 40)
    }
    expect(yield* loadOf({ dir, segmentBytes })).toEqual(modelOf(ops))

    const snap: Op = { op: "snap", snapshot: { index: 50, term: 3, data: bytes(5, 0) }, discardLog: false }
    yield* withStorage({ dir, segmentBytes }, (s) => run(s, snap))
    expect(yield* listDir(path.join(dir, "wal"))).toEqual([segmentName(names.length + 1)])
    expect(yield* loadOf({ dir, segmentBytes })).toEqual(modelOf([...ops, snap]))
  }))

  test("the identity file guards the directory", Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = path.join(yield* tempDir, "n1")
    const n1 = { clusterId: "abc", nodeId: "n1" }
    yield* withStorage({ dir, identity: n1 }, (s) => s.append([entry(1, 1)]))
    expect(JSON.parse(yield* fs.readFileString(path.join(dir, "IDENTITY")))).toEqual(n1)
    expect((yield* loadOf({ dir, identity: n1 })).entries.length).toBe(1)

    const error = yield* openFailure({ dir, identity: { clusterId: "abc", nodeId: "n2" } })
    expect(error).toBeInstanceOf(StorageError)
    expect(error.message).toContain(`data directory ${dir} belongs to node n1 of cluster abc, not node n2 of cluster abc`)
    expect(error.message).not.toContain("\n")
    const other = yield* openFailure({ dir, identity: { clusterId: "xyz", nodeId: "n1" } })
    expect(other.message).toContain("belongs to node n1 of cluster abc, not node n1 of cluster xyz")
  }))
})

describe("FileStorage locks its directory", () => {
  const lockOf = (dir: string) => path.join(dir, "LOCK")
  const writeLock = (dir: string, text: string) =>
    Effect.flatMap(FileSystem.FileSystem, (fs) =>
      Effect.zipRight(fs.makeDirectory(dir, { recursive: true }), fs.writeFileString(lockOf(dir), text)))
  // A pid that certainly ran and has exited: a child process that is gone.
  const deadPid = () => {
    const child = spawnSync(process.execPath, ["-e", "0"])
    expect(child.status).toBe(0)
    return child.pid!
  }

  test("a second open in this process is refused while the first is open, and works after it closes", Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = path.join(yield* tempDir, "n1")
    yield* withStorage({ dir }, (s) =>
      Effect.gen(function*() {
        yield* s.append([entry(1, 1)])
        expect(JSON.parse(yield* fs.readFileString(lockOf(dir)))).toEqual({ pid: process.pid, host: hostname() })
        const error = yield* openFailure({ dir })
        expect(error).toBeInstanceOf(StorageError)
        expect(error.message).toBe(
          `storage error at ${lockOf(dir)}: data directory ${dir} is already open in this process (pid ${process.pid})`
        )
      }))
    expect(yield* fs.exists(lockOf(dir))).toBe(false)
    expect((yield* loadOf({ dir })).entries.length).toBe(1)
  }))

  test("a lock held by another live process is refused, naming its pid; nothing is read or changed", Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = path.join(yield* tempDir, "n1")
    yield* withStorage({ dir }, (s) => s.append([entry(1, 1)]))
    const lock = JSON.stringify({ pid: process.ppid, host: hostname() })
    yield* writeLock(dir, lock)
    const error = yield* openFailure({ dir })
    expect(error.message).toBe(`storage error at ${lockOf(dir)}: data directory ${dir} is in use by process ${process.ppid}; stop it first`)
    expect(yield* fs.readFileString(lockOf(dir))).toBe(lock)
    const elsewhere = JSON.stringify({ pid: 1, host: "some-other-host" })
    yield* writeLock(dir, elsewhere)
    expect((yield* openFailure({ dir })).message).toContain(`is in use by process 1 on host some-other-host`)
  }))

  test("a lock left by a process that is gone, by an earlier process with this pid, or empty, is taken over", Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = path.join(yield* tempDir, "n1")
    yield* withStorage({ dir }, (s) => s.append([entry(1, 1)]))
    const dead = deadPid()
    for (const [text, why] of [
      [JSON.stringify({ pid: dead, host: hostname() }), `process ${dead}, which held it, is gone`],
      [JSON.stringify({ pid: process.pid, host: hostname() }), `an earlier process with this pid (${process.pid}) left it`],
      ["", "it is empty (its owner stopped before writing its pid)"]
    ] as const) {
      logs.splice(0)
      yield* writeLock(dir, text)
      yield* withStorage({ dir }, (s) =>
        Effect.gen(function*() {
          expect((yield* s.load).entries.length).toBe(1)
          expect(JSON.parse(yield* fs.readFileString(lockOf(dir))).pid).toBe(process.pid)
        }))
      expect(logs).toEqual([`WARN data directory ${dir}: taking over its lock (${lockOf(dir)}): ${why}`])
    }
  }))
})
