/**
 * Directory layout and durable-file helpers of the file `LogStorage`.
 *
 * ```
 * <dir>/IDENTITY                          {"clusterId": …, "nodeId": …} (when an identity is configured)
 * <dir>/wal/0000000000000001.wal …        WAL segments, numbered from 1 without gaps
 * <dir>/snap/snapshot-<index>-<term>.snap the snapshot named by the newest snapshot marker
 * ```
 * @internal
 */
import type { FileSystem } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Effect, Either, Schema } from "effect"
import * as path from "node:path"
import { StorageError } from "../../raft/LogStorage.js"

/** Maps a platform I/O error to the storage's typed error. */
export const io = (at: string) => <A, R>(effect: Effect.Effect<A, PlatformError, R>): Effect.Effect<A, StorageError, R> =>
  Effect.mapError(effect, (e) => new StorageError({ path: at, detail: e.message }))

const SEGMENT = /^(\d{16})\.wal$/
const SNAPSHOT = /^snapshot-(\d+)-(\d+)\.snap$/
/** Suffix of a file being written before its atomic rename. */
export const TEMP_SUFFIX = ".tmp"

export const segmentName = (n: number): string => `${String(n).padStart(16, "0")}.wal`

export const parseSegmentName = (name: string): number | undefined => {
  const m = SEGMENT.exec(name)
  return m === null ? undefined : Number(m[1])
}

export const snapshotName = (index: number, term: number): string => `snapshot-${index}-${term}.snap`

export const parseSnapshotName = (name: string): { readonly index: number; readonly term: number } | undefined => {
  const m = SNAPSHOT.exec(name)
  return m === null ? undefined : { index: Number(m[1]), term: Number(m[2]) }
}

/**
 * fsyncs a directory, making the creation, rename or removal of its entries durable. Linux (and the
 * BSDs) allow fsync on a directory opened read-only; that is what this does.
 */
export const syncDirectory = (fs: FileSystem.FileSystem, dir: string): Effect.Effect<void, StorageError> =>
  Effect.scoped(Effect.flatMap(fs.open(dir, { flag: "r" }), (d) => d.sync)).pipe(io(dir))

/**
 * Writes `bytes` to `file` so that after a crash the file holds either its old contents or all of
 * `bytes`: write a temporary file in the same directory, fsync it, rename it over `file`, fsync the
 * directory.
 */
export const writeFileAtomic = (
  fs: FileSystem.FileSystem,
  file: string,
  bytes: Uint8Array
): Effect.Effect<void, StorageError> => {
  const temp = file + TEMP_SUFFIX
  return Effect.gen(function*() {
    yield* Effect.scoped(Effect.gen(function*() {
      const f = yield* fs.open(temp, { flag: "w" })
      yield* f.writeAll(bytes)
      yield* f.sync
    })).pipe(io(temp))
    yield* fs.rename(temp, file).pipe(io(file))
    yield* syncDirectory(fs, path.dirname(file))
  })
}

/** Who a data directory belongs to. */
export interface Identity {
  readonly clusterId: string
  readonly nodeId: string
}

const IdentityJson = Schema.parseJson(Schema.Struct({ clusterId: Schema.String, nodeId: Schema.String }))
const decodeIdentity = Schema.decodeUnknownEither(IdentityJson)
const encodeIdentity = Schema.encodeSync(IdentityJson)

const describe = (id: Identity) => `node ${id.nodeId} of cluster ${id.clusterId}`

/**
 * Checks that `dir` belongs to `identity`, claiming it (atomically) if it belongs to no one yet. The
 * point is to catch a node started on another node's data directory, which would otherwise present
 * that node's votes and log as its own.
 */
export const checkIdentity = (
  fs: FileSystem.FileSystem,
  dir: string,
  identity: Identity
): Effect.Effect<void, StorageError> => {
  const file = path.join(dir, "IDENTITY")
  return Effect.gen(function*() {
    if (!(yield* fs.exists(file).pipe(io(file)))) {
      return yield* writeFileAtomic(fs, file, new TextEncoder().encode(encodeIdentity(identity) + "\n"))
    }
    const text = yield* fs.readFileString(file).pipe(io(file))
    const found = decodeIdentity(text.trim())
    if (Either.isLeft(found)) {
      return yield* new StorageError({
        path: file,
        detail: `unreadable identity file (expected {"clusterId": …, "nodeId": …}); fix or remove it`
      })
    }
    const { clusterId, nodeId } = found.right
    if (clusterId !== identity.clusterId || nodeId !== identity.nodeId) {
      return yield* new StorageError({
        path: file,
        detail: `data directory ${dir} belongs to ${describe(found.right)}, not ${describe(identity)}`
      })
    }
  })
}
