/**
 * The JSON Lines history formats of `concord check`: the KV model's, and the register's, queue's and
 * set's.
 */
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import * as Linearizability from "../../src/check/Linearizability.js"
import * as Kv from "../../src/check/models/Kv.js"
import * as Queue from "../../src/check/models/Queue.js"
import * as Register from "../../src/check/models/Register.js"
import * as SetModel from "../../src/check/models/Set.js"
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

describe("the register, queue and set formats", () => {
  const errorOf = (r: Either.Either<unknown, { readonly message: string }>) => (Either.isLeft(r) ? r.left.message : "decoded")

  it("register: read, write, cas", () => {
    const text = [
      `{"client": 0, "op": "write", "value": 3, "call": 0, "return": 5}`,
      `{"client": 1, "op": "read", "output": 3, "call": 6, "return": 7}`,
      `{"client": 2, "op": "cas", "expected": 3, "value": 4, "output": true, "call": 8, "return": 9}`,
      `{"client": 3, "op": "cas", "expected": 0, "value": 1, "call": 8}`
    ].join("\n")
    const history = Either.getOrThrow(Register.decodeJsonl(text))
    expect(history.map((op) => [op.input, op.output])).toEqual([
      [{ op: "write", value: 3 }, {}],
      [{ op: "read" }, { value: 3 }],
      [{ op: "cas", expected: 3, value: 4 }, { ok: true }],
      [{ op: "cas", expected: 0, value: 1 }, undefined]
    ])
    expect(Linearizability.checkHistory(Register.model, history)._tag).toBe("Ok")
    const stale = text + `\n{"client": 1, "op": "read", "output": 3, "call": 10, "return": 11}`
    expect(Linearizability.checkHistory(Register.model, Either.getOrThrow(Register.decodeJsonl(stale)))._tag).toBe("Illegal")
    const line = (fields: string) => errorOf(Register.decodeJsonl(`{"client": 0, "call": 0, "return": 1, ${fields}}`))
    expect(line(`"op": "read"`)).toBe(`line 1: a read that returned needs a number "output"`)
    expect(line(`"op": "write"`)).toBe(`line 1: write needs a "value"`)
    expect(line(`"op": "cas", "value": 1`)).toBe(`line 1: cas needs "expected" and "value"`)
    expect(line(`"op": "cas", "expected": 1, "value": 2, "output": 5`)).toBe(`line 1: a cas that returned needs "output": true or false`)
    expect(line(`"op": "swap"`)).toBe(`line 1: "op": must be "read", "write" or "cas", not "swap"`)
  })

  it("queue: enqueue, dequeue (null: empty)", () => {
    const text = [
      `{"client": 0, "op": "enqueue", "value": 7, "call": 0, "return": 5}`,
      `{"client": 1, "op": "dequeue", "output": 7, "call": 6, "return": 7}`,
      `{"client": 1, "op": "dequeue", "output": null, "call": 8, "return": 9}`
    ].join("\n")
    const history = Either.getOrThrow(Queue.decodeJsonl(text))
    expect(history.map((op) => op.output)).toEqual([{}, { value: 7 }, {}])
    expect(Linearizability.checkHistory(Queue.model, history)._tag).toBe("Ok")
    expect(errorOf(Queue.decodeJsonl(`{"client": 0, "op": "dequeue", "call": 0, "return": 1}`))).toBe(
      `line 1: a dequeue that returned needs an "output" (null: the queue was empty)`
    )
    expect(errorOf(Queue.decodeJsonl(`{"client": 0, "op": "enqueue", "call": 0}`))).toBe(`line 1: enqueue needs a "value"`)
  })

  it("set: add, remove, contains, take (null: empty)", () => {
    const text = [
      `{"client": 0, "op": "add", "value": "a", "output": true, "call": 0, "return": 5}`,
      `{"client": 1, "op": "contains", "value": "a", "output": true, "call": 6, "return": 7}`,
      `{"client": 2, "op": "take", "output": "a", "call": 8, "return": 9}`,
      `{"client": 2, "op": "take", "output": null, "call": 10, "return": 11}`
    ].join("\n")
    const history = Either.getOrThrow(SetModel.decodeJsonl(text))
    expect(history.map((op) => op.output)).toEqual([{ ok: true }, { ok: true }, { value: "a" }, {}])
    expect(Linearizability.checkHistory(SetModel.model, history)._tag).toBe("Ok")
    expect(errorOf(SetModel.decodeJsonl(`{"client": 0, "op": "remove", "value": "a", "output": "x", "call": 0, "return": 1}`))).toBe(
      `line 1: remove that returned needs "output": true or false`
    )
    expect(errorOf(SetModel.decodeJsonl(`{"client": 0, "op": "take", "value": "a", "call": 0}`))).toBe(`line 1: take takes no "value"`)
  })
})
