import { Either } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Limits from "../../src/kv/Limits.js"
import * as Sessions from "../../src/replica/Sessions.js"

describe("Sessions", () => {
  it("runs an operation once: a retry gets the remembered reply, an older one the stale reply", () => {
    const s = Sessions.empty<string>()
    let runs = 0
    const op = (seq: number, reply: string) => Sessions.execute(s, 7, seq, () => (runs++, reply), "stale")
    expect(op(1, "a")).toBe("a")
    expect(op(1, "x")).toBe("a")
    expect(op(2, "b")).toBe("b")
    expect(op(1, "y")).toBe("stale")
    expect(runs).toBe(2)
    expect(Sessions.seen(s, 7, 2)).toBe(true)
    expect(Sessions.seen(s, 7, 3)).toBe(false)
  })

  it("keeps at most `limit` sessions, forgetting the least recently used first", () => {
    const s = Sessions.empty<number>()
    for (const client of [1, 2, 3]) Sessions.execute(s, client, 1, () => client, -1, 3)
    Sessions.execute(s, 1, 2, () => 10, -1, 3) // client 1 is now the most recent
    Sessions.execute(s, 4, 1, () => 4, -1, 3)
    expect([...s.keys()]).toEqual([3, 1, 4])
  })

  it("merge keeps the later operation of each client", () => {
    const a = Sessions.empty<string>()
    const b = Sessions.empty<string>()
    Sessions.record(a, 1, 5, "a5")
    Sessions.record(a, 2, 1, "a1")
    Sessions.record(b, 1, 3, "b3")
    Sessions.record(b, 2, 4, "b4")
    Sessions.record(b, 3, 1, "b1")
    Sessions.merge(a, b)
    expect(Object.fromEntries([...a].map(([c, x]) => [c, x.reply]))).toEqual({ 1: "a5", 2: "b4", 3: "b1" })
  })

  it("rows round-trip in order; malformed rows are refused with the row number", () => {
    const s = Sessions.empty<string>()
    for (let c = 0; c < 5; c++) Sessions.record(s, 100 - c, c + 1, `r${c}`)
    const rows = Sessions.toRows(s, (r) => r)
    const back = Sessions.fromRows(rows, (u) => (typeof u === "string" ? u : undefined))
    expect(Either.isRight(back) && [...back.right]).toEqual([...s])
    const bad = Sessions.fromRows([...rows, [1, -2, "x"]], (u) => (typeof u === "string" ? u : undefined))
    expect(Either.isLeft(bad) && bad.left).toContain("row 5")
    expect(Either.isLeft(Sessions.fromRows({}, () => 1))).toBe(true)
  })
})

describe("Limits", () => {
  it("utf8Bytes is the UTF-8 length of any string, lone surrogates included", () => {
    fc.assert(fc.property(fc.string({ unit: "binary" }), (s) => Limits.utf8Bytes(s) === Buffer.byteLength(s, "utf8")), {
      numRuns: 2000
    })
  })

  it("keys: non-empty, at most maxKeyBytes in UTF-8; values at most maxValueBytes", () => {
    const limits = { maxKeyBytes: 4, maxValueBytes: 6 }
    expect(Limits.checkKey("", limits)?.code).toBe("bad_request")
    expect(Limits.checkKey("abcd", limits)).toBeUndefined()
    expect(Limits.checkKey("abcde", limits)?.code).toBe("key_too_large")
    expect(Limits.checkKey("é", limits)).toBeUndefined() // 2 bytes
    expect(Limits.checkKey("éé€", limits)?.code).toBe("key_too_large") // 7 bytes in 3 units
    expect(Limits.checkValue("€€", limits)).toBeUndefined() // 6 bytes
    expect(Limits.checkValue("€€a", limits)?.code).toBe("value_too_large")
    expect(Limits.check("k", "", limits)).toBeUndefined()
  })
})
