/**
 * A `FileSystem` whose WAL segment files (`*.wal`) count their fsyncs and can be made to fail writes or
 * fsyncs with an injected EIO. Used by the FileStorage tests (fault injection) and `bench/storage.ts`
 * (entries per fsync).
 */
import { FileSystem } from "@effect/platform"
import { SystemError } from "@effect/platform/Error"
import { Effect } from "effect"

export interface Faults {
  /** fsyncs of WAL segments run so far. */
  syncs: number
  failSync: boolean
  failWrite: boolean
}

export const noFaults = (): Faults => ({ syncs: 0, failSync: false, failWrite: false })

const injected = (method: string, file: string) =>
  new SystemError({ module: "FileSystem", method, reason: "Unknown", pathOrDescriptor: file, description: "EIO (injected)" })

export const instrumented = (fs: FileSystem.FileSystem, faults: Faults): FileSystem.FileSystem => ({
  ...fs,
  open: (file, options) =>
    Effect.map(fs.open(file, options), (f): FileSystem.File => {
      const isSegment = file.endsWith(".wal")
      return {
        [FileSystem.FileTypeId]: FileSystem.FileTypeId,
        fd: f.fd,
        get stat() {
          return f.stat
        },
        seek: (offset, from) => f.seek(offset, from),
        get sync() {
          return Effect.suspend(() => {
            if (!isSegment) return f.sync
            faults.syncs++
            return faults.failSync ? Effect.fail(injected("sync", file)) : f.sync
          })
        },
        read: (buffer) => f.read(buffer),
        readAlloc: (size) => f.readAlloc(size),
        truncate: (length) => f.truncate(length),
        write: (buffer) => f.write(buffer),
        writeAll: (buffer) =>
          Effect.suspend(() => isSegment && faults.failWrite ? Effect.fail(injected("writeAll", file)) : f.writeAll(buffer))
      }
    })
})

/** Runs `effect` with the `FileSystem` in context instrumented by `faults`. */
export const withFaults = <A, E, R>(faults: Faults, effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => Effect.provideService(effect, FileSystem.FileSystem, instrumented(fs, faults)))
