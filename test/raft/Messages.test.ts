import { Either } from "effect"
import { describe, expect, it } from "vitest"
import * as Codec from "../../src/codec/Codec.js"
import { AppendEntries } from "../../src/raft/Messages.js"

describe("Raft wire messages", () => {
  const codec = Codec.make(AppendEntries)
  const ae = new AppendEntries({
    term: 3,
    leader: "n1",
    prevIndex: 9,
    prevTerm: 2,
    entries: [
      { index: 10, term: 3, kind: 0, data: new Uint8Array([1, 2, 3]) },
      { index: 11, term: 3, kind: 1, data: new Uint8Array(0) }
    ],
    commit: 8
  })

  it("AppendEntries round-trips with its entries", () => {
    const back = Either.getOrThrow(codec.decode(codec.encode(ae)))
    expect(back).toBeInstanceOf(AppendEntries)
    expect(back.entries.map((e) => [e.index, e.term, e.kind, Array.from(e.data)])).toEqual([[10, 3, 0, [1, 2, 3]], [11, 3, 1, []]])
  })

  it("malformed entries are rejected with the entry's position", () => {
    const plain = codec.encodePlain(ae) as { entries: Array<Array<unknown>> }
    const bad = (entry: Array<unknown>) => codec.decodePlain({ ...plain, entries: [plain.entries[0], entry] })
    for (const entry of [[11, -1, 0, new Uint8Array()], [11, 3, 3, new Uint8Array()], [11, 3, 0, "x"], [1.5, 3, 0, new Uint8Array()], [11, 3]]) {
      const r = bad(entry)
      expect(Either.isLeft(r)).toBe(true)
      expect(Either.isLeft(r) && r.left.message).toContain("entry 1 is not [index, term, kind 0|1|2, bytes]")
    }
  })
})
