/**
 * The data directory's lock: `<dir>/LOCK` names the process that has the directory open, as
 * `{"pid": …, "host": …}`. Two processes appending to one WAL corrupt it (each believes it knows the
 * log's end, and both vote), so a second process must be refused before it reads anything.
 *
 * - The file is created with O_EXCL (`wx`): of two processes opening the directory at once, exactly
 *   one creates it.
 * - A lock left by a process that no longer runs (kill -9, a crash, a power cut) is taken over, with a
 *   warning. Liveness is `isAlive(pid)` (the file Layer passes `process.kill(pid, 0)`). A lock from
 *   another host (a directory on a shared file system) cannot be checked and is never taken over.
 * - A lock naming this process's own pid is held by this process only if this process took it (the
 *   `held` set): otherwise an earlier process with the same pid left it (a container's main process
 *   is pid 1 at every restart), and it is stale.
 * - Between O_EXCL creating the file and the pid being written, the file is empty. A reader that finds
 *   it empty waits for the owner to finish writing; a file still empty after that is from a process
 *   that crashed in between, and is stale.
 * - Taking over a stale lock (remove, then create with O_EXCL) races with a third process doing the
 *   same only if both found the same stale lock at the same moment; one of them then fails to create
 *   and retries, finding the other's live lock. (As in PostgreSQL's postmaster.pid, the window where
 *   one removes the lock the other just created is not closed; it needs two starts within
 *   microseconds of each other on a directory whose owner crashed.)
 *
 * The lock is released (the file removed, if it still names this process) when the storage's scope
 * closes.
 * @internal
 */
import type { FileSystem } from "@effect/platform"
import { Duration, Effect, Either, Schema, type Scope } from "effect"
import * as path from "node:path"
import { StorageError } from "../../raft/LogStorage.js"
import { io } from "./files.js"

export const LOCK_FILE = "LOCK"

/** Who holds a lock. */
export interface Owner {
  readonly pid: number
  readonly host: string
}

/** This process, and how to tell whether another is alive. */
export interface Self extends Owner {
  readonly isAlive: (pid: number) => boolean
}

const OwnerJson = Schema.parseJson(Schema.Struct({ pid: Schema.Int, host: Schema.String }))
const decodeOwner = Schema.decodeUnknownEither(OwnerJson)
const encodeOwner = Schema.encodeSync(OwnerJson)

// Directories (resolved paths) whose lock this process holds.
const held = new Set<string>()

// How long to wait for the owner of an empty lock file to write its pid.
const EMPTY_WAIT = Duration.millis(20)
const EMPTY_TRIES = 25

type Found =
  | { readonly _tag: "Gone" }
  | { readonly _tag: "Owner"; readonly owner: Owner }
  | { readonly _tag: "Unreadable"; readonly text: string }

/**
 * Takes the lock of `dir` (which must exist) for the current scope, or fails with a `StorageError`
 * naming the process that holds it.
 */
export const lockDirectory = (
  fs: FileSystem.FileSystem,
  dir: string,
  self: Self
): Effect.Effect<void, StorageError, Scope.Scope> => {
  const file = path.join(dir, LOCK_FILE)
  const key = path.resolve(dir)
  const inUse = (detail: string) => new StorageError({ path: file, detail })

  const create = Effect.scoped(
    Effect.gen(function*() {
      const f = yield* fs.open(file, { flag: "wx" })
      yield* f.writeAll(new TextEncoder().encode(encodeOwner({ pid: self.pid, host: self.host }) + "\n"))
      yield* f.sync
    })
  )

  const read: Effect.Effect<Found, StorageError> = fs.readFileString(file).pipe(
    Effect.map((text): Found => {
      const owner = decodeOwner(text.trim())
      return Either.isRight(owner) ? { _tag: "Owner", owner: owner.right } : { _tag: "Unreadable", text }
    }),
    Effect.catchIf(
      (e) => e._tag === "SystemError" && e.reason === "NotFound",
      () => Effect.succeed<Found>({ _tag: "Gone" })
    ),
    io(file)
  )

  // The lock's owner, once it has written its pid (or given up waiting).
  const readSettled = Effect.gen(function*() {
    for (let i = 0; ; i++) {
      const found = yield* read
      if (found._tag !== "Unreadable" || found.text.trim() !== "" || i >= EMPTY_TRIES) return found
      yield* Effect.sleep(EMPTY_WAIT)
    }
  })

  const takeOver = (why: string) =>
    Effect.zipRight(
      Effect.logWarning(`data directory ${dir}: taking over its lock (${file}): ${why}`),
      fs.remove(file).pipe(
        Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "NotFound", () => Effect.void),
        io(file)
      )
    )

  const acquire = Effect.gen(function*() {
    if (held.has(key)) return yield* inUse(`data directory ${dir} is already open in this process (pid ${self.pid})`)
    for (let attempt = 0; attempt < 5; attempt++) {
      const created = yield* Effect.either(create)
      if (Either.isRight(created)) {
        held.add(key)
        return
      }
      const e = created.left
      if (!(e._tag === "SystemError" && e.reason === "AlreadyExists")) {
        return yield* new StorageError({ path: file, detail: `cannot create the lock file: ${e.message}` })
      }
      const found = yield* readSettled
      switch (found._tag) {
        case "Gone":
          continue
        case "Unreadable":
          yield* takeOver(
            found.text.trim() === ""
              ? "it is empty (its owner stopped before writing its pid)"
              : `its content ${JSON.stringify(found.text.slice(0, 80))} names no process`
          )
          continue
        case "Owner": {
          const { host, pid } = found.owner
          if (host !== self.host) {
            return yield* inUse(
              `data directory ${dir} is in use by process ${pid} on host ${host}; ` +
                `stop it first, or remove this lock file if that process is gone`
            )
          }
          if (pid !== self.pid && self.isAlive(pid)) {
            return yield* inUse(`data directory ${dir} is in use by process ${pid}; stop it first`)
          }
          yield* takeOver(
            pid === self.pid
              ? `an earlier process with this pid (${pid}) left it`
              : `process ${pid}, which held it, is gone`
          )
          continue
        }
      }
    }
    return yield* inUse(
      `cannot lock data directory ${dir}: the lock file keeps changing (other processes starting on it?)`
    )
  })

  // Removes the file only if it still names this process: after a takeover by someone else (say an
  // operator removed it by hand and started another process), it is theirs.
  const release = Effect.gen(function*() {
    held.delete(key)
    const found = yield* read
    if (found._tag === "Owner" && found.owner.pid === self.pid && found.owner.host === self.host) {
      yield* fs.remove(file).pipe(io(file))
    }
  }).pipe(Effect.catchAll((e) => Effect.logWarning(`cannot release the lock of ${dir}: ${e.message}`)))

  return Effect.acquireRelease(acquire, () => release)
}
