import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { encodedEntryBytes, entryBytes } from "../../src/storage/internal/LogModel.js"

describe("LogStorage sizes", () => {
  it("the computed entry size equals the encoded size, at every msgpack size boundary", () => {
    const boundaries = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 40]
    for (const index of boundaries) {
      for (const term of boundaries) {
        for (const len of [0, 1, 255, 256, 65535, 65536]) {
          const e = { index, term, kind: 1 as const, data: new Uint8Array(len) }
          expect(entryBytes(e), `index ${index} term ${term} len ${len}`).toBe(encodedEntryBytes(e))
        }
      }
    }
    fc.assert(fc.property(fc.nat(), fc.nat(), fc.uint8Array({ maxLength: 300 }), (index, term, data) => {
      const e = { index, term, kind: 0 as const, data }
      return entryBytes(e) === encodedEntryBytes(e)
    }))
  })
})
