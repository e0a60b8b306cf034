/**
 * The apps and their helpers: Go-compatible word splitting, UTF-8 lengths and ihash; the loader;
 * the sequential runner on a memory file system.
 */
import { it as effectIt } from "@effect/vitest"
import { FileSystem } from "@effect/platform"
import { Effect, Either } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as App from "../../src/mapreduce/App.js"
import * as indexer from "../../src/mapreduce/apps/indexer.js"
import * as nocrash from "../../src/mapreduce/apps/nocrash.js"
import * as wc from "../../src/mapreduce/apps/wc.js"
import { countWords, fnv1a32, forEachWord, ihash, utf8Length } from "../../src/mapreduce/internal/text.js"
import * as Sequential from "../../src/mapreduce/Sequential.js"
import * as MemoryFileSystem from "../../src/sim/MemoryFileSystem.js"
import { books } from "./support/MrHarness.js"

const words = (s: string) => {
  const out: Array<string> = []
  forEachWord(s, (w) => out.push(w))
  return out
}

/** Reference FNV-1a over Node's UTF-8 encoding. */
const fnvRef = (s: string) => {
  let h = 0x811c9dc5
  for (const b of Buffer.from(s, "utf8")) h = Math.imul(h ^ b, 0x01000193) >>> 0
  return h
}

describe("text helpers (Go semantics)", () => {
  it("splits on non-letters like strings.FieldsFunc(s, !unicode.IsLetter)", () => {
    expect(words("Hello, world! It's 2024--ok")).toEqual(["Hello", "world", "It", "s", "ok"])
    expect(words("café naïve Ünïcode ok")).toEqual(["café", "naïve", "Ünïcode", "ok"])
    expect(words("日本語テキスト。次")).toEqual(["日本語テキスト", "次"])
    expect(words("a\u00A0b 3x 𝒳y")).toEqual(["a", "b", "x", "𝒳y"]) // NBSP separates; U+1D4B3 is a letter
    expect(words("")).toEqual([])
    expect(words("…—")).toEqual([])
  })

  it("countWords agrees with forEachWord", () => {
    fc.assert(fc.property(fc.string({ unit: "grapheme", maxLength: 200 }), (s) => {
      const counts = new Map<string, number>()
      countWords(s, counts)
      const expected = new Map<string, number>()
      for (const w of words(s)) expected.set(w, (expected.get(w) ?? 0) + 1)
      expect(counts).toEqual(expected)
    }))
  })

  it("on the ASCII books, words are exactly [A-Za-z]+ (SOURCES.md)", () => {
    const text = new TextDecoder().decode(books[0]!.data)
    expect(words(text)).toEqual(text.match(/[A-Za-z]+/g))
  })

  it("utf8Length is Go's len(string)", () => {
    fc.assert(fc.property(fc.string({ unit: "binary" }), (s) => {
      expect(utf8Length(s)).toBe(Buffer.byteLength(s, "utf8"))
    }))
  })

  it("ihash is FNV-1a 32-bit over UTF-8 bytes & 0x7fffffff", () => {
    expect(fnv1a32("")).toBe(0x811c9dc5)
    expect(fnv1a32("a")).toBe(0xe40c292c)
    expect(fnv1a32("foobar")).toBe(0xbf9cf968)
    expect(ihash("a")).toBe(0xe40c292c & 0x7fffffff)
    fc.assert(fc.property(fc.string({ unit: "binary" }), (s) => {
      expect(fnv1a32(s)).toBe(fnvRef(s))
    }))
  })
})

describe("apps", () => {
  it("wc counts words in map; its reduce sums", () => {
    expect(wc.map("f", "the cat and the hat")).toEqual([
      { key: "the", value: "2" },
      { key: "cat", value: "1" },
      { key: "and", value: "1" },
      { key: "hat", value: "1" }
    ])
    expect(wc.reduce("the", ["2", "1", "1"])).toBe("4")
  })

  it("indexer lists each word's documents, sorted", () => {
    expect(indexer.map("d1", "a b a")).toEqual([{ key: "a", value: "d1" }, { key: "b", value: "d1" }])
    expect(indexer.reduce("a", ["d2", "d1"])).toBe("2 d1,d2")
  })

  it("nocrash emits the filename, its length, the content length in bytes, and xyzzy", () => {
    expect(nocrash.map("../é.txt", "héllo")).toEqual([
      { key: "a", value: "../é.txt" },
      { key: "b", value: "9" },
      { key: "c", value: "6" },
      { key: "d", value: "xyzzy" }
    ])
    expect(nocrash.reduce("b", ["9", "10", "1"])).toBe("1 10 9")
  })
})

describe("App.load", () => {
  effectIt.effect("loads every built-in by name", () =>
    Effect.gen(function*() {
      for (const name of App.builtinNames) {
        const app = yield* App.load(name)
        expect(app.name).toBe(name)
        expect(typeof app.map).toBe("function")
      }
      expect(App.builtinNames).toEqual([
        "wc",
        "indexer",
        "mtiming",
        "rtiming",
        "jobcount",
        "early_exit",
        "crash",
        "nocrash"
      ])
    }))

  effectIt.effect("loads a module by path, and says what is wrong otherwise", () =>
    Effect.gen(function*() {
      const app = yield* App.load("./src/mapreduce/apps/indexer.ts")
      expect(app.name).toBe("./src/mapreduce/apps/indexer.ts")
      expect(app.combine).toBeUndefined()
      const unknown = yield* Effect.flip(App.load("wordcount"))
      expect(unknown.message).toBe(
        `cannot load app "wordcount": not a built-in app ` +
          `(wc, indexer, mtiming, rtiming, jobcount, early_exit, crash, nocrash) nor a module path (like ./app.js)`
      )
      const missing = yield* Effect.flip(App.load("./nope/app.js"))
      expect(missing.message).toContain("no module at")
      const notAnApp = yield* Effect.flip(App.load("./src/mapreduce/Scheduler.ts"))
      expect(notAnApp.message).toBe(
        `cannot load app "./src/mapreduce/Scheduler.ts": it does not export a function map(filename, contents)`
      )
    }))

  it("fromModule accepts a default export and checks optional exports", () => {
    const ok = App.fromModule("m", { default: { map: () => [], reduce: () => "" } })
    expect(Either.isRight(ok)).toBe(true)
    const bad = App.fromModule("m", { map: () => [], reduce: () => "", combine: 3 })
    expect(Either.isLeft(bad) && bad.left.message).toBe(`cannot load app "m": its combine export is not a function`)
  })
})

describe("Sequential", () => {
  effectIt.effect("writes mr-out-0 with one sorted `key value` line per key, like mrsequential", () =>
    Effect.gen(function*() {
      const fs = yield* MemoryFileSystem.make({ files: { "/in/a.txt": "b a c a", "/in/b.txt": "c B" } })
      const app = Either.getOrThrow(App.fromModule("wc", wc))
      const result = yield* Sequential.run({ app, inputs: ["/in/a.txt", "/in/b.txt"], dir: "/out" }).pipe(
        Effect.provideService(FileSystem.FileSystem, fs)
      )
      expect(result).toMatchObject({ output: "/out/mr-out-0", lines: 4, inputBytes: 10 })
      expect(yield* fs.readFileString("/out/mr-out-0")).toBe("B 1\na 2\nb 1\nc 2\n")
      expect(yield* fs.readDirectory("/out")).toEqual(["mr-out-0"])
    }))

  effectIt.effect("an app failure names the function and the input", () =>
    Effect.gen(function*() {
      const fs = yield* MemoryFileSystem.make({ files: { "/a": "x" } })
      const app: App.App = { name: "bad", map: () => [{ key: "k", value: "v" }], reduce: () => Effect.fail("nope") }
      const run = Sequential.run({ app, inputs: ["/a"] }).pipe(Effect.provideService(FileSystem.FileSystem, fs))
      const err = yield* Effect.flip(run)
      expect(err.message).toBe(`bad: reduce("k") failed: nope`)
    }))
})
