/**
 * File names of a job and the atomic write every output goes through.
 *
 * Names are the 6.824 ones: map task m writes `mr-<m>-<r>` for each reduce task r; reduce task r
 * writes `mr-out-<r>`. A file is first written under a temporary name unique to the attempt
 * (`mr-tmp-<worker>-<attempt>-<name>`, which no reader or `mr-out*` glob ever matches) and then
 * renamed into place: rename replaces atomically, so a reader sees either no file or a complete one,
 * and a re-executed or duplicate attempt replaces a complete file with an equally complete one.
 * @internal
 */
import type { FileSystem } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Effect } from "effect"

export const join = (dir: string, name: string): string =>
  dir === "" || dir === "." ? name : dir.endsWith("/") ? dir + name : `${dir}/${name}`

export const intermediateName = (map: number, reduce: number): string => `mr-${map}-${reduce}`
export const outputName = (reduce: number): string => `mr-out-${reduce}`
export const TEMP_PREFIX = "mr-tmp-"
export const tempName = (worker: string, attempt: number, name: string): string =>
  `${TEMP_PREFIX}${worker}-${attempt}-${name}`

/** Matches intermediate file names. */
export const isIntermediate = (name: string): boolean => /^mr-\d+-\d+$/.test(name)

/**
 * Writes `chunks` to `dir/name` through a temporary file and a rename. On a failure the temporary file
 * is removed; on an interruption (a simulated crash) it stays, as a real crash would leave it.
 */
export const writeAtomic = (
  fs: FileSystem.FileSystem,
  dir: string,
  name: string,
  chunks: ReadonlyArray<Uint8Array>,
  temp: string
): Effect.Effect<void, PlatformError> => {
  const tempPath = join(dir, temp)
  const write = chunks.length === 1
    ? fs.writeFile(tempPath, chunks[0]!)
    : Effect.scoped(Effect.flatMap(
      fs.open(tempPath, { flag: "w" }),
      (file) => Effect.forEach(chunks, (c) => file.writeAll(c), { discard: true })
    ))
  return write.pipe(
    Effect.zipRight(fs.rename(tempPath, join(dir, name))),
    Effect.tapError(() => Effect.ignore(fs.remove(tempPath, { force: true })))
  )
}
