/**
 * The in-memory FileSystem: POSIX behaviour programs rely on (parents, atomic rename, open flags,
 * listings), copies on read, fault injection, and virtual modification times.
 */
import { it } from "@effect/vitest"
import { FileSystem } from "@effect/platform"
import { Chunk, Effect, Either, Exit, Fiber, Option, Stream } from "effect"
import { describe, expect } from "vitest"
import * as MemoryFileSystem from "../../src/sim/MemoryFileSystem.js"
import * as Simulation from "../../src/sim/Simulation.js"

const text = (fs: FileSystem.FileSystem, path: string) => fs.readFileString(path)
const reason = <A>(e: Either.Either<A, unknown>) => {
  if (Either.isRight(e)) return "ok"
  const err = e.left as { readonly reason?: string; readonly _tag: string }
  return err.reason ?? err._tag
}

describe("MemoryFileSystem", () => {
  it.effect("normalizes paths against cwd", () =>
    Effect.sync(() => {
      expect(MemoryFileSystem.normalize("/a/b", "c")).toBe("/a/b/c")
      expect(MemoryFileSystem.normalize("/a/b", "../c/./d/")).toBe("/a/c/d")
      expect(MemoryFileSystem.normalize("/", "../../x")).toBe("/x")
      expect(MemoryFileSystem.normalize("/a", "/abs//p")).toBe("/abs/p")
    }))

  it.effect("initial files, relative paths and sorted listings", () =>
    Effect.gen(function*() {
      const files = { "/books/b.txt": "B", "/books/a.txt": "A", x: "X" }
      const fs = yield* MemoryFileSystem.make({ files, cwd: "/job" })
      expect(yield* text(fs, "../books/a.txt")).toBe("A")
      expect(yield* text(fs, "x")).toBe("X")
      expect(yield* fs.readDirectory("/books")).toEqual(["a.txt", "b.txt"])
      expect(yield* fs.readDirectory("/", { recursive: true })).toEqual([
        "books",
        "books/a.txt",
        "books/b.txt",
        "job",
        "job/x",
        "tmp"
      ])
      expect(yield* fs.exists("/books/c.txt")).toBe(false)
      expect(yield* fs.exists("/books")).toBe(true)
      expect(Number((yield* fs.stat("/books/a.txt")).size)).toBe(1)
      expect((yield* fs.stat("/books")).type).toBe("Directory")
    }))

  it.effect("writes need an existing parent; errors carry POSIX-like reasons", () =>
    Effect.gen(function*() {
      const fs = yield* MemoryFileSystem.make()
      expect(reason(yield* Effect.either(fs.writeFileString("/no/such/file", "x")))).toBe("NotFound")
      expect(reason(yield* Effect.either(fs.readFile("/missing")))).toBe("NotFound")
      expect(reason(yield* Effect.either(fs.readFile("/tmp")))).toBe("BadResource")
      yield* fs.makeDirectory("/a/b/c", { recursive: true })
      yield* fs.makeDirectory("/a/b/c", { recursive: true }) // idempotent
      expect(reason(yield* Effect.either(fs.makeDirectory("/a")))).toBe("AlreadyExists")
      expect(reason(yield* Effect.either(fs.makeDirectory("/x/y")))).toBe("NotFound")
      yield* fs.writeFileString("/a/b/c/f", "1")
      expect(reason(yield* Effect.either(fs.remove("/a")))).toBe("BadResource")
      yield* fs.remove("/a", { recursive: true })
      expect(yield* fs.exists("/a/b/c/f")).toBe(false)
      expect(reason(yield* Effect.either(fs.remove("/a")))).toBe("NotFound")
      yield* fs.remove("/a", { force: true })
      expect(reason(yield* Effect.either(fs.writeFileString("/tmp/f", "x", { flag: "wx" })))).toBe("ok")
      expect(reason(yield* Effect.either(fs.writeFileString("/tmp/f", "x", { flag: "wx" })))).toBe("AlreadyExists")
      yield* fs.writeFileString("/tmp/f", "yz", { flag: "a" })
      expect(yield* text(fs, "/tmp/f")).toBe("xyz")
    }))

  it.effect("rename replaces its target atomically and moves directories", () =>
    Effect.gen(function*() {
      const fs = yield* MemoryFileSystem.make({ files: { "/d/out": "old", "/d/tmp": "new" } })
      yield* fs.rename("/d/tmp", "/d/out")
      expect(yield* text(fs, "/d/out")).toBe("new")
      expect(yield* fs.readDirectory("/d")).toEqual(["out"])
      expect(reason(yield* Effect.either(fs.rename("/d/tmp", "/d/out")))).toBe("NotFound")
      yield* fs.makeDirectory("/e")
      yield* fs.rename("/d", "/e/d2")
      expect(yield* text(fs, "/e/d2/out")).toBe("new")
      expect(yield* fs.exists("/d")).toBe(false)
      expect(reason(yield* Effect.either(fs.rename("/e", "/e/d2/inside")))).toBe("BadResource")
    }))

  it.effect("reads return copies; writes do not alias the caller's buffer", () =>
    Effect.gen(function*() {
      const fs = yield* MemoryFileSystem.make()
      const data = new Uint8Array([1, 2, 3])
      yield* fs.writeFile("/f", data)
      data[0] = 9
      const a = yield* fs.readFile("/f")
      a[1] = 9
      expect([...(yield* fs.readFile("/f"))]).toEqual([1, 2, 3])
    }))

  it.scoped("open: w truncates, a appends, r+ reads and writes, reads see the data, closed handles fail", () =>
    Effect.gen(function*() {
      const fs = yield* MemoryFileSystem.make({ files: { "/f": "hello" } })
      const enc = new TextEncoder()
      yield* Effect.scoped(Effect.gen(function*() {
        const f = yield* fs.open("/f", { flag: "a" })
        yield* f.writeAll(enc.encode(" world"))
      }))
      expect(yield* text(fs, "/f")).toBe("hello world")
      const r = yield* Effect.scoped(Effect.gen(function*() {
        const f = yield* fs.open("/f", { flag: "r+" })
        yield* f.seek(6, "start")
        yield* f.writeAll(enc.encode("WORLD"))
        yield* f.seek(0, "start")
        const chunk = yield* f.readAlloc(5)
        return new TextDecoder().decode(Option.getOrThrow(chunk))
      }))
      expect(r).toBe("hello")
      expect(yield* text(fs, "/f")).toBe("hello WORLD")
      yield* Effect.scoped(Effect.flatMap(fs.open("/f", { flag: "w" }), (f) => f.writeAll(enc.encode("x"))))
      expect(yield* text(fs, "/f")).toBe("x")
      const escaped = yield* Effect.scoped(fs.open("/f", { flag: "r" }))
      expect(reason(yield* Effect.either(escaped.readAlloc(1)))).toBe("BadResource")
      expect(reason(yield* Effect.either(Effect.scoped(fs.open("/nope"))))).toBe("NotFound")
      // Streams and sinks come from FileSystem.make on top of open.
      yield* fs.writeFileString("/big", "abc".repeat(100_000))
      const chunks = yield* Stream.runCollect(fs.stream("/big", { chunkSize: 65536 }))
      expect(Chunk.reduce(chunks, 0, (n, c) => n + c.length)).toBe(300_000)
    }))

  it.effect("temp files and directories are unique and the scoped ones are removed", () =>
    Effect.gen(function*() {
      const fs = yield* MemoryFileSystem.make()
      const a = yield* fs.makeTempFile({ prefix: "x-" })
      const b = yield* fs.makeTempFile({ prefix: "x-" })
      expect(a).not.toBe(b)
      expect(a.startsWith("/tmp/x-")).toBe(true)
      const dir = yield* Effect.scoped(Effect.gen(function*() {
        const d = yield* fs.makeTempDirectoryScoped()
        yield* fs.writeFileString(`${d}/inner`, "1")
        return d
      }))
      expect(yield* fs.exists(dir)).toBe(false)
    }))

  it.effect("unsupported operations fail with BadArgument", () =>
    Effect.gen(function*() {
      const fs = yield* MemoryFileSystem.make({ files: { "/f": "x" } })
      expect(reason(yield* Effect.either(fs.symlink("/f", "/g")))).toBe("BadArgument")
      expect(reason(yield* Effect.either(fs.link("/f", "/g")))).toBe("BadArgument")
    }))
})

describe("MemoryFileSystem in a simulation", () => {
  it("modification times are virtual; onOperation can add latency and crash a writer halfway", async () => {
    const { value } = await Simulation.runOrThrow(
      Effect.gen(function*() {
        const ops: Array<string> = []
        let writes = 0
        const fs = yield* MemoryFileSystem.make({
          onOperation: (op) =>
            Effect.gen(function*() {
              ops.push(`${op.method} ${op.path}`)
              if (op.method === "file.write") {
                yield* Effect.sleep("10 millis") // a slow disk
                if (++writes === 3) return yield* Effect.interrupt // the writer crashes
              }
            })
        })
        yield* Effect.sleep("5 seconds")
        yield* fs.writeFileString("/a", "x")
        const mtime = Option.getOrThrow((yield* fs.stat("/a")).mtime).getTime()
        const writer = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
          const f = yield* fs.open("/tmp/partial", { flag: "w" })
          for (let i = 0; i < 5; i++) yield* f.writeAll(new Uint8Array([i]))
        })))
        const exit = yield* Fiber.await(writer)
        return { mtime, crashed: Exit.isInterrupted(exit), partial: [...(yield* fs.readFile("/tmp/partial"))], ops }
      }),
      { seed: 1 }
    )
    expect(value.mtime).toBe(5000)
    expect(value.crashed).toBe(true)
    expect(value.partial).toEqual([0, 1])
    expect(value.ops.filter((o) => o.startsWith("file.write"))).toHaveLength(3)
  })
})
