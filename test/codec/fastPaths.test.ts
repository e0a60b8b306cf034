/**
 * The hand-written codecs of the hot path (Codec.fastPath) against Schema, which they replace: on
 * random valid values they encode to the same plain form and decode to the same value; on random
 * corruptions of that form they either decline (Schema decides) or agree with Schema.
 */
import { Either, Schema } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Codec from "../../src/codec/Codec.js"
import { KvCommand } from "../../src/kv/KvStateMachine.js"
import { KvGet, KvWrite } from "../../src/kv/Messages.js"
import { AppendEntries, AppendEntriesReply, Heartbeat, HeartbeatReply } from "../../src/raft/Messages.js"

const nat = fc.nat()
const str = fc.string({ maxLength: 12 })
const bytes = fc.uint8Array({ maxLength: 16 })
const entry = fc.record({ index: nat, term: nat, kind: fc.constantFrom(0 as const, 1 as const, 2 as const), data: bytes })

const cases: ReadonlyArray<{ readonly name: string; readonly schema: Schema.Schema<any, any, never>; readonly value: fc.Arbitrary<any> }> = [
  {
    name: "AppendEntries",
    schema: AppendEntries,
    value: fc.record({ term: nat, leader: str, prevIndex: nat, prevTerm: nat, entries: fc.array(entry, { maxLength: 4 }), commit: nat })
      .map((f) => new AppendEntries(f))
  },
  {
    name: "AppendEntriesReply",
    schema: AppendEntriesReply,
    value: fc.record({ term: nat, success: fc.boolean(), match: nat, conflictIndex: nat, conflictTerm: nat }).map((f) => new AppendEntriesReply(f))
  },
  {
    name: "Heartbeat",
    schema: Heartbeat,
    value: fc.record({ term: nat, leader: str, commit: nat, readRound: nat }).map((f) => new Heartbeat(f))
  },
  { name: "HeartbeatReply", schema: HeartbeatReply, value: fc.record({ term: nat, readRound: nat }).map((f) => new HeartbeatReply(f)) },
  {
    name: "KvWrite",
    schema: KvWrite,
    value: fc.record({ op: fc.constantFrom("put" as const, "append" as const, "delete" as const), key: str, value: str, clientId: nat, seq: nat })
      .map((f) => new KvWrite(f))
  },
  { name: "KvGet", schema: KvGet, value: fc.record({ key: str, clientId: nat, seq: nat }).map((f) => new KvGet(f)) },
  {
    name: "KvCommand",
    schema: KvCommand,
    value: fc.record(
      { op: fc.constantFrom("get" as const, "put" as const, "append" as const, "delete" as const), key: str, value: str, clientId: nat, seq: nat },
      { requiredKeys: ["op", "key", "clientId", "seq"] }
    )
  }
]

const junk = fc.oneof(fc.anything(), fc.double(), fc.integer({ min: -5, max: 5 }), fc.constant(undefined), fc.constant(null), fc.array(fc.anything(), { maxLength: 4 }))

/** The same value: the same class (or plain object) with equal fields. */
const same = (a: unknown, b: unknown) => {
  expect(Object.getPrototypeOf(a)).toBe(Object.getPrototypeOf(b))
  expect({ ...(a as object) }).toEqual({ ...(b as object) })
}

describe("hot-path codecs agree with Schema", () => {
  for (const c of cases) {
    const codec = Codec.make(c.schema)
    const encode = Schema.encodeSync(c.schema)
    const decode = Schema.decodeUnknownEither(c.schema)

    it(`${c.name}: valid values encode and decode as Schema does`, () => {
      fc.assert(fc.property(c.value, (v) => {
        const plain = encode(v)
        expect(codec.encodePlain(v)).toEqual(plain)
        const ours = codec.decodePlain(plain)
        const theirs = decode(plain)
        expect(Either.isRight(ours) && Either.isRight(theirs)).toBe(true)
        same(Either.getOrThrow(ours), Either.getOrThrow(theirs))
        // And through bytes, as on the wire.
        same(Either.getOrThrow(codec.decode(codec.encode(v))), Either.getOrThrow(theirs))
      }), { numRuns: 500 })
    })

    it(`${c.name}: a corrupted field is refused or decoded as Schema does`, () => {
      fc.assert(fc.property(c.value, fc.nat(), junk, (v, k, bad) => {
        const plain = { ...(encode(v) as Record<string, unknown>) }
        const keys = Object.keys(plain)
        plain[keys[k % keys.length]!] = bad
        const ours = codec.decodePlain(plain)
        const theirs = decode(plain)
        expect(Either.isRight(ours)).toBe(Either.isRight(theirs))
        if (Either.isRight(ours) && Either.isRight(theirs)) same(ours.right, theirs.right)
      }), { numRuns: 500 })
    })
  }

  it("an entry that is not [index, term, kind, bytes] is refused with its position", () => {
    const codec = Codec.make(AppendEntries)
    const plain = { _tag: "AppendEntries", term: 1, leader: "a", prevIndex: 0, prevTerm: 0, commit: 0, entries: [[1, 1, 0, new Uint8Array()], [2, 1, 7, new Uint8Array()]] }
    const r = codec.decodePlain(plain)
    expect(Either.isLeft(r) && r.left.message).toMatch(/entry 1 is not/)
  })
})
