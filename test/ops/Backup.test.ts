import { Effect, Either } from "effect"
import { describe, expect, it } from "vitest"
import * as Backup from "../../src/ops/Backup.js"

const decode = (bytes: Uint8Array) => Effect.runSync(Effect.either(Backup.decode(bytes, "f.snap")))

describe("snapshot files", () => {
  const captured = new Backup.Captured({ kind: "kv", index: 42, term: 3, data: new TextEncoder().encode("some state bytes") })
  const file = Backup.encode(captured)

  it("round-trips index, term, kind and data; the checksum is the file's last 32 bytes", () => {
    const back = decode(file)
    expect(Either.getOrThrow(back)).toEqual(captured)
    expect(Backup.checksum(file)).toMatch(/^[0-9a-f]{64}$/)
  })

  it("refuses every truncation and every flipped byte, saying which", () => {
    for (let n = 0; n < file.length; n++) {
      const r = decode(file.subarray(0, n))
      expect(Either.isLeft(r), `truncated to ${n}`).toBe(true)
      expect(Either.getLeft(r).pipe((e) => e._tag === "Some" && e.value.message)).toMatch(/^snapshot file f\.snap: /)
    }
    for (let i = 0; i < file.length; i++) {
      const bad = file.slice()
      bad[i]! ^= 0x01
      expect(Either.isLeft(decode(bad)), `byte ${i} flipped`).toBe(true)
    }
    const messages = [file.subarray(0, 20), file.subarray(0, file.length - 1)].map((b) => {
      const r = decode(b)
      return Either.isLeft(r) ? r.left.message : ""
    })
    expect(messages[1]).toBe(`snapshot file f.snap: truncated: ${file.length - 1} bytes of ${file.length}`)
    const flipped = file.slice()
    flipped[file.length - 40]! ^= 0x01
    expect(Either.getLeft(decode(flipped)).pipe((e) => e._tag === "Some" && e.value.message))
      .toBe("snapshot file f.snap: checksum mismatch: the file is corrupted")
    const longer = new Uint8Array(file.length + 1)
    longer.set(file)
    expect(Either.getLeft(decode(longer)).pipe((e) => e._tag === "Some" && e.value.message)).toMatch(/trailing garbage/)
  })
})
