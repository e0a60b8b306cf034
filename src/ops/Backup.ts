/**
 * Backups: a consistent snapshot of a service's state machine, taken by the leader, in a
 * self-checking file; and seeding a new node's data directory from one (etcd's `snapshot save` and
 * `snapshot restore`).
 *
 * File: `CCSNAP01` | u32 header length | header (JSON: version, kind, index, term, dataBytes) | data |
 * SHA-256 of everything before it (32 bytes). A file that is short, has another magic, a header that
 * does not parse, or a checksum that does not match is refused with a `SnapshotFileError` saying which.
 *
 * Restoring writes what a node that had applied through `index` and compacted its log there would
 * have on disk: the snapshot at (`index`, `term`) and a hard state with that term and commit index, no
 * vote. Every member of the new cluster is restored from the same file, so they agree on the log up
 * to `index` and elect a leader whose first entry follows it.
 * @since 0.1.0
 */
import { FileSystem } from "@effect/platform"
import { Data, Effect } from "effect"
import { createHash } from "node:crypto"
import { type CorruptLog, StorageError } from "../raft/LogStorage.js"
import type { RaftShape } from "../raft/Raft.js"
import type { ReplicatedStateMachine } from "../raft/ReplicatedStateMachine.js"
import * as FileStorage from "../storage/FileStorage.js"
import { Captured } from "./Messages.js"

export { Captured } from "./Messages.js"

const MAGIC = new TextEncoder().encode("CCSNAP01")
const VERSION = 1
const DIGEST = 32
const MAX_HEADER = 64 * 1024

/** A snapshot file that cannot be used. */
export class SnapshotFileError extends Data.TaggedError("SnapshotFileError")<{ readonly file: string; readonly detail: string }> {
  override get message() {
    return `snapshot file ${this.file}: ${this.detail}`
  }
}

const sha256 = (bytes: Uint8Array) => new Uint8Array(createHash("sha256").update(bytes).digest())
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")

/** The file's bytes for a captured snapshot. */
export const encode = (snapshot: Captured): Uint8Array => {
  const header = new TextEncoder().encode(JSON.stringify({
    version: VERSION,
    kind: snapshot.kind,
    index: snapshot.index,
    term: snapshot.term,
    dataBytes: snapshot.data.length
  }))
  const body = new Uint8Array(MAGIC.length + 4 + header.length + snapshot.data.length)
  body.set(MAGIC, 0)
  new DataView(body.buffer).setUint32(MAGIC.length, header.length)
  body.set(header, MAGIC.length + 4)
  body.set(snapshot.data, MAGIC.length + 4 + header.length)
  const out = new Uint8Array(body.length + DIGEST)
  out.set(body, 0)
  out.set(sha256(body), body.length)
  return out
}

/** The hex SHA-256 a file ends with (what `snapshot save` prints). */
export const checksum = (file: Uint8Array): string => hex(file.subarray(file.length - DIGEST))

/** Reads a snapshot file's bytes back, checking every part; `name` is for the error. */
export const decode = (bytes: Uint8Array, name: string): Effect.Effect<Captured, SnapshotFileError> =>
  Effect.suspend(() => {
    const bad = (detail: string) => Effect.fail(new SnapshotFileError({ file: name, detail }))
    if (bytes.length < MAGIC.length || !MAGIC.every((b, i) => bytes[i] === b)) {
      return bad(bytes.length === 0 ? "the file is empty" : "not a Concord snapshot file (it does not begin with CCSNAP01)")
    }
    if (bytes.length < MAGIC.length + 4) return bad(`truncated: ${bytes.length} bytes, too short for a header`)
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
    const headerBytes = view.getUint32(MAGIC.length)
    if (headerBytes > MAX_HEADER) return bad(`corrupted: a header of ${headerBytes} bytes`)
    const dataAt = MAGIC.length + 4 + headerBytes
    if (bytes.length < dataAt) return bad(`truncated: ${bytes.length} bytes, the header alone takes ${dataAt}`)
    let header: { version?: unknown; kind?: unknown; index?: unknown; term?: unknown; dataBytes?: unknown }
    try {
      header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(MAGIC.length + 4, dataAt)))
    } catch {
      return bad("corrupted: the header is not JSON")
    }
    const int = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0
    if (header.version !== VERSION) return bad(`version ${JSON.stringify(header.version)}; this build reads version ${VERSION}`)
    if (!int(header.index) || !int(header.term) || !int(header.dataBytes) || typeof header.kind !== "string") {
      return bad("corrupted: the header lacks index, term, kind or dataBytes")
    }
    const expected = dataAt + header.dataBytes + DIGEST
    if (bytes.length < expected) return bad(`truncated: ${bytes.length} bytes of ${expected}`)
    if (bytes.length > expected) return bad(`${bytes.length - expected} bytes of trailing garbage after the checksum`)
    const body = bytes.subarray(0, expected - DIGEST)
    if (hex(sha256(body)) !== checksum(bytes)) return bad("checksum mismatch: the file is corrupted")
    if (header.kind !== "kv" && header.kind !== "ctrl" && header.kind !== "shardkv") return bad(`unknown kind ${header.kind}`)
    return Effect.succeed(
      new Captured({ kind: header.kind, index: header.index, term: header.term, data: bytes.slice(dataAt, dataAt + header.dataBytes) })
    )
  })

/**
 * A consistent snapshot of `replica` (this node must lead): a ReadIndex barrier, so that every write
 * acknowledged before the call is applied here, then the state encoded with its applied index in one
 * synchronous step (the state machine may update its state in place, so nothing may run between
 * reading the index and encoding the state).
 */
export const capture = <St>(
  kind: Captured["kind"],
  raft: RaftShape,
  replica: ReplicatedStateMachine<St, any, any>,
  snapshot: (state: St) => Uint8Array
) =>
  Effect.gen(function*() {
    yield* replica.read(() => undefined)
    const { term } = yield* raft.status
    return yield* Effect.sync(() => {
      const { applied, state } = Effect.runSync(replica.local)
      return new Captured({ kind, index: applied, term, data: snapshot(state) })
    })
  })

/**
 * Seeds the data directory `dir` of node `nodeId` of cluster `clusterId` with `snapshot`. The directory
 * must be new or empty: restoring over a node's data would mix two histories.
 */
export const restore = (
  snapshot: Captured,
  options: { readonly dir: string; readonly clusterId: string; readonly nodeId: string }
): Effect.Effect<void, StorageError | CorruptLog, FileSystem.FileSystem> =>
  Effect.scoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const existing = yield* fs.readDirectory(options.dir).pipe(Effect.orElseSucceed(() => []))
    if (existing.length > 0) {
      return yield* new StorageError({
        path: options.dir,
        detail: `${options.dir} is not empty (${existing.slice(0, 3).join(", ")}${existing.length > 3 ? ", …" : ""}); restore into a new directory`
      })
    }
    const storage = yield* FileStorage.make({ dir: options.dir, identity: { clusterId: options.clusterId, nodeId: options.nodeId } })
    yield* storage.installSnapshot({ index: snapshot.index, term: snapshot.term, data: snapshot.data }, { discardLog: true })
    yield* storage.setHardState({ term: snapshot.term, vote: null, commit: snapshot.index })
  }))
