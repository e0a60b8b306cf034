/**
 * The JSON Lines history format of `concord check`.
 */
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import * as Linearizability from "../../src/check/Linearizability.js"
import * as Kv from "../../src/check/models/Kv.js"
import { linearizableKv } from "./support/histories.js"

const decode = (text: string) => Kv.decodeJsonl(text)
const error = (text: string) => {
  const r = decode(text)
  return Either.isLeft(r) ? r.left.message : "decoded"
}

describe("Kv.decodeJsonl", () => {
  it("reads operations, skipping blank lines, with null or absent return for never-returned ones", () => {
    const text = [
      `{"client": 1, "op": "put", "key": "k", "value": "v", "call": 0, "return": 5}`,
      ``,
      `{"client": 2, "op": "get", "key": "k", "output": "v", "call": 6, "return": 9, "note": "extra fields are ok"}`,
      `{"client": 3, "op": "append", "key": "k", "value": "w", "call": 7, "return": null}`,
      `{"client": 4, "op": "get", "key": "k", "call": 8}`
    ].join("\n")
    expect(decode(text)).toEqual(Either.right([
      { clientId: 1, input: { op: "put", key: "k", value: "v" }, output: {}, call: 0, return: 5 },
      { clientId: 2, input: { op: "get", key: "k" }, output: { value: "v" }, call: 6, return: 9 },
      { clientId: 3, input: { op: "append", key: "k", value: "w" }, output: undefined, call: 7, return: undefined },
      { clientId: 4, input: { op: "get", key: "k" }, output: undefined, call: 8, return: undefined }
    ]))
  })

  it("names the line of a bad operation", () => {
    const ok = `{"client": 1, "op": "put", "key": "k", "value": "v", "call": 0, "return": 5}\n`
    expect(error(ok + `{"client": 1, "op": "put"`)).toMatch(/^line 2: not valid JSON/)
    expect(error(ok + ok + `{"client": 1, "op": "gett", "key": "k", "call": 0, "return": 1}`)).toBe(
      `line 3: "op": must be "get", "put" or "append", not "gett"`
    )
    expect(error(`{"client": 1, "op": "get", "key": "k", "output": "", "call": "0", "return": 1}`)).toBe(
      `line 1: "call": must be a number, not "0"`
    )
    expect(error(`{"client": 1.5, "op": "get", "key": "k", "output": "", "call": 0, "return": 1}`)).toBe(
      `line 1: "client": must be an integer, not 1.5`
    )
    expect(error(`{"client": 1, "op": "get", "key": "k", "output": ""}`)).toBe(`line 1: "call" is missing`)
    expect(error(`{"client": 1, "op": "get", "key": "k", "output": "", "call": 0, "return": "x"}`)).toBe(
      `line 1: "return": must be a number or null, not "x"`
    )
    expect(error(`[1, 2]`)).toBe(`line 1: not a JSON object`)
  })

  it("checks what each kind of operation carries", () => {
    const line = (fields: string) => error(`{"client": 0, "key": "k", "call": 0, ${fields}}`)
    expect(line(`"op": "get", "value": "v", "output": "", "return": 1`)).toBe(`line 1: get takes no "value"`)
    expect(line(`"op": "put", "return": 1`)).toBe(`line 1: put needs a "value"`)
    expect(line(`"op": "append", "value": "v", "output": "x", "return": 1`)).toBe(`line 1: append has no "output"`)
    expect(line(`"op": "get", "return": 1`)).toBe(`line 1: get returned but has no "output"`)
    expect(line(`"op": "get", "output": "x"`)).toBe(`line 1: "output" given for an operation that never returned`)
    expect(error(`\n{"client": 0, "op": "get", "key": "k", "output": "", "call": 5, "return": 4}`)).toBe(
      `line 2: "return" (4) is before "call" (5)`
    )
  })

  it("keeps nanosecond timestamps since the epoch exact by rebasing them", () => {
    // As doubles, 1700000000000000001 and ...002 are the same number; the put must still come first.
    const text = [
      `{"client": 0, "op": "put", "key": "k", "value": "1", ` +
      `"call": 1700000000000000000, "return": 1700000000000000001}`,
      `{"client": 1, "op": "get", "key": "k", "output": "", "call": 1700000000000000002, "return": 1700000000000000003}`
    ].join("\n")
    const history = Either.getOrThrow(decode(text))
    expect(history.map((op) => [op.call, op.return])).toEqual([[0, 1], [2, 3]])
    expect(Linearizability.checkHistory(Kv.model, history)._tag).toBe("Illegal")
    expect(error(text.replace("1700000000000000003", "1700000000000000001"))).toBe(
      `line 2: "return" (1700000000000000000) is before "call" (1700000000000000000)`
    )
  })

  it("round-trips with encodeJsonl", () => {
    const { history } = linearizableKv({ ops: 300, keys: 3, clients: 5, overlap: 4, seed: 3, pending: 0.05 })
    expect(decode(Kv.encodeJsonl(history))).toEqual(Either.right(history))
  })
})
