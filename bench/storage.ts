/**
 * `npm run bench -- storage [--bytes N] [--ms N] [--rounds N]`: durable appends per second to the file
 * LogStorage, one entry per `append`, each run in a fresh directory under the OS temp dir:
 *   raw fsync     node:fs write + fsync per entry, same record size, no Effect, no encoding: the cost
 *                 of one durable write on this disk, the reference every ratio is against;
 *   raw 64/fsync  the same with 64 records per write and fsync: the ceiling of group commit at that
 *                 batch size on this disk;
 *   1 in flight   FileStorage, one fiber appending and waiting for each append (one fsync each);
 *   N in flight   FileStorage, N fibers appending at once: the writer commits whatever queued up while
 *                 it was fsyncing, in one write and one fsync (group commit).
 * MB/s counts the bytes that reached the WAL (records with their headers). Entries per fsync is
 * counted through a FileSystem wrapper. The disk of a shared machine drifts by 10x within a minute, so
 * the configurations run round-robin in short windows and each line is the median of its rounds.
 */
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { Effect } from "effect"
import * as nodeFs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as FileStorage from "../src/storage/FileStorage.js"
import type { LogEntry } from "../src/raft/core/types.js"
import { instrumented, noFaults } from "../test/support/walFaults.js"

const arg = (args: ReadonlyArray<string>, name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : fallback
}

interface Result {
  readonly label: string
  readonly entries: number
  readonly bytes: number
  readonly fsyncs: number
  readonly seconds: number
}

const walBytes = (dir: string) =>
  nodeFs.readdirSync(path.join(dir, "wal")).reduce((n, f) => n + nodeFs.statSync(path.join(dir, "wal", f)).size, 0)

/** The reference: what a bare write + fsync per record costs on this disk. */
const raw = (recordBytes: number, perFsync: number, ms: number): Result => {
  const dir = nodeFs.mkdtempSync(path.join(os.tmpdir(), "concord-bench-"))
  try {
    const fd = nodeFs.openSync(path.join(dir, "raw.wal"), "a")
    const batch = Buffer.alloc(recordBytes * perFsync, 7)
    const start = performance.now()
    let n = 0
    while (performance.now() - start < ms) {
      nodeFs.writeSync(fd, batch)
      nodeFs.fsyncSync(fd)
      n++
    }
    const seconds = (performance.now() - start) / 1000
    nodeFs.closeSync(fd)
    const label = perFsync === 1 ? "raw fsync" : `raw ${perFsync}/fsync`
    return { label, entries: n * perFsync, bytes: n * batch.length, fsyncs: n, seconds }
  } finally {
    nodeFs.rmSync(dir, { recursive: true, force: true })
  }
}

/** `inFlight` fibers append one entry at a time for `ms`. */
const storage = (inFlight: number, data: Uint8Array, ms: number) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "concord-bench-" })
    const counter = noFaults()
    const s = yield* FileStorage.make({ dir }).pipe(Effect.provideService(FileSystem.FileSystem, instrumented(fs, counter)))
    let next = 1
    let stop = false
    // The index is taken in the same synchronous step that queues the append, so appends from the
    // concurrent fibers stay contiguous.
    const appendNext = Effect.suspend(() => s.append([{ index: next++, term: 1, kind: 0, data } satisfies LogEntry]))
    const loop = Effect.whileLoop({ while: () => !stop, body: () => appendNext, step: () => {} })
    const before = { fsyncs: counter.syncs, bytes: walBytes(dir) }
    const start = performance.now()
    const timer = setTimeout(() => {
      stop = true
    }, ms)
    yield* Effect.all(Array.from({ length: inFlight }, () => loop), { concurrency: "unbounded", discard: true })
    clearTimeout(timer)
    const seconds = (performance.now() - start) / 1000
    return {
      label: inFlight === 1 ? "1 in flight" : `${inFlight} in flight`,
      entries: next - 1,
      bytes: walBytes(dir) - before.bytes,
      fsyncs: counter.syncs - before.fsyncs,
      seconds
    }
  }).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer))

const rate = (r: Result) => r.entries / r.seconds

const median = (results: ReadonlyArray<Result>): Result => {
  const sorted = [...results].sort((a, b) => rate(a) - rate(b))
  return sorted[Math.floor(sorted.length / 2)]!
}

const print = (r: Result, reference: Result, single: Result | undefined) => {
  console.log(
    `${r.label.padEnd(13)} ${rate(r).toFixed(0).padStart(9)} entries/s ${(r.bytes / r.seconds / 1e6).toFixed(2).padStart(7)} MB/s ` +
      `${(r.entries / Math.max(1, r.fsyncs)).toFixed(1).padStart(6)} entries/fsync ${(rate(r) / rate(reference)).toFixed(2).padStart(7)}x raw` +
      (single === undefined ? "" : ` ${(rate(r) / rate(single)).toFixed(1).padStart(6)}x 1 in flight`)
  )
}

export const run = async (args: ReadonlyArray<string>) => {
  const dataBytes = arg(args, "bytes", 128)
  const ms = arg(args, "ms", 400)
  const rounds = arg(args, "rounds", 5)
  const data = new Uint8Array(dataBytes).fill(42)
  console.log(`one ${dataBytes}-byte entry per append; median of ${rounds} rounds of ${ms} ms; WAL under ${os.tmpdir()}`)
  // A record holds the header, the Entries tag and one encoded entry: about 18 bytes besides the data.
  const recordBytes = dataBytes + 18
  const configs: ReadonlyArray<() => Promise<Result>> = [
    async () => raw(recordBytes, 1, ms),
    async () => raw(recordBytes, 64, ms),
    () => Effect.runPromise(storage(1, data, ms)),
    () => Effect.runPromise(storage(8, data, ms)),
    () => Effect.runPromise(storage(64, data, ms))
  ]
  const results: Array<Array<Result>> = configs.map(() => [])
  for (let round = 0; round < rounds; round++) {
    for (const [i, config] of configs.entries()) results[i]!.push(await config())
  }
  const [reference, raw64, single, eight, sixtyFour] = results.map(median) as [Result, Result, Result, Result, Result]
  print(reference, reference, undefined)
  print(raw64, reference, undefined)
  print(single, reference, single)
  print(eight, reference, single)
  print(sixtyFour, reference, single)
}
