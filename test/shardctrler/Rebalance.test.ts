/**
 * The rebalancer's properties over random sequences of Join, Leave and Move (1–20 groups, gids
 * re-used, several gids per Join and Leave): balanced after every Join and Leave, moving exactly the
 * lower bound of shards, deterministic whatever the order of the input map, byte-identical on
 * replay, never sharing arrays or maps with the previous config. And the key→shard functions.
 */
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Codec from "../../src/codec/Codec.js"
import {
  type Config,
  ConfigSchema,
  counts,
  fnv1a,
  type Gid,
  initial,
  shardOfKey,
  toWire
} from "../../src/shardctrler/Config.js"
import * as Rebalance from "../../src/shardctrler/Rebalance.js"

type Op =
  | { readonly op: "join"; readonly gids: ReadonlyArray<Gid> }
  | { readonly op: "leave"; readonly gids: ReadonlyArray<Gid> }
  | { readonly op: "move"; readonly shard: number; readonly gid: Gid }

const gid = fc.integer({ min: 1, max: 20 })
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.uniqueArray(gid, { minLength: 1, maxLength: 4 }).map((gids) => ({ op: "join" as const, gids })) },
  { weight: 2, arbitrary: fc.uniqueArray(gid, { minLength: 1, maxLength: 3 }).map((gids) => ({ op: "leave" as const, gids })) },
  { weight: 1, arbitrary: fc.record({ shard: fc.nat(), gid }).map(({ gid, shard }) => ({ op: "move" as const, shard, gid })) }
)
const nShards = fc.oneof(fc.constant(10), fc.integer({ min: 1, max: 24 }))

const servers = (g: Gid) => [`s${g}a`, `s${g}b`]

/** Applies `o` if it is valid for `c` (the arbitrary ops are adapted: joins of new gids, leaves of present ones). */
const step = (c: Config, o: Op, order: (gs: ReadonlyArray<Gid>) => ReadonlyArray<Gid> = (gs) => gs) => {
  if (o.op === "join") {
    const fresh = o.gids.filter((g) => !c.groups.has(g))
    if (fresh.length === 0) return undefined
    return Rebalance.join(c, new Map(order(fresh).map((g) => [g, servers(g)])))
  }
  if (o.op === "leave") {
    const present = o.gids.filter((g) => c.groups.has(g))
    if (present.length === 0) return undefined
    return Rebalance.leave(c, order(present))
  }
  if (c.groups.size === 0) return undefined
  return Rebalance.move(c, o.shard % c.shards.length, moveTarget(c, o.gid))
}

/** The joined group a Move op sends its shard to. */
const moveTarget = (c: Config, pick: number): Gid => {
  const gs = [...c.groups.keys()].sort((a, b) => a - b)
  return gs[pick % gs.length]!
}

/** The fewest shards any balanced assignment of `next`'s groups must move from `prev`. */
const lowerBound = (prev: Config, next: Config): number => {
  const n = prev.shards.length
  const k = next.groups.size
  if (k === 0) return prev.shards.filter((g) => g !== 0).length
  const held = [...next.groups.keys()].map((g) => prev.shards.filter((x) => x === g).length).sort((a, b) => b - a)
  const orphans = prev.shards.filter((g) => !next.groups.has(g)).length
  const floor = Math.floor(n / k)
  const extra = n % k
  return orphans + held.reduce((sum, h, i) => sum + Math.max(0, h - (floor + (i < extra ? 1 : 0))), 0)
}

const moved = (a: Config, b: Config) => a.shards.filter((g, s) => g !== b.shards[s]).length

describe("Rebalance", () => {
  it("balanced after every Join and Leave, moving exactly the lower bound; Move is exact", () => {
    fc.assert(
      fc.property(nShards, fc.array(op, { minLength: 1, maxLength: 40 }), (n, ops) => {
        let c = initial(n, "first-byte")
        let balanced = true
        for (const o of ops) {
          const next = step(c, o)
          if (next === undefined) continue
          expect(Rebalance.isRefused(next)).toBe(false)
          const cfg = next as Config
          expect(cfg.num).toBe(c.num + 1)
          if (o.op === "move") {
            expect(moved(c, cfg)).toBeLessThanOrEqual(1)
            expect(cfg.shards[o.shard % n]).toBe(moveTarget(c, o.gid))
            balanced = false
          } else {
            expect(Rebalance.isBalanced(cfg)).toBe(true)
            expect(moved(c, cfg)).toBe(lowerBound(c, cfg))
            if (balanced) {
              // From a balanced config, on a Join no existing group gains; on a Leave no survivor loses.
              for (const g of c.groups.keys()) {
                if (!cfg.groups.has(g)) continue
                const before = c.shards.flatMap((x, s) => (x === g ? [s] : []))
                const after = cfg.shards.flatMap((x, s) => (x === g ? [s] : []))
                if (o.op === "join") expect(after.every((s) => before.includes(s))).toBe(true)
                else expect(before.every((s) => after.includes(s))).toBe(true)
              }
            }
            balanced = true
          }
          // Never shared with the previous config.
          expect(cfg.shards).not.toBe(c.shards)
          expect(cfg.groups).not.toBe(c.groups)
          for (const [g, s] of cfg.groups) if (c.groups.has(g)) expect(s).not.toBe(c.groups.get(g))
          if (cfg.groups.size === 0) expect(cfg.shards.every((g) => g === 0)).toBe(true)
          c = cfg
        }
      }),
      { numRuns: 500 }
    )
  })

  it("deterministic: shuffled inputs and replays give byte-identical configs", () => {
    const codec = Codec.make(ConfigSchema, "config")
    fc.assert(
      fc.property(nShards, fc.array(op, { minLength: 1, maxLength: 30 }), fc.integer(), (n, ops, seed) => {
        let rng = seed | 0 || 1
        const shuffle = (gs: ReadonlyArray<Gid>) => {
          const out = [...gs]
          for (let i = out.length - 1; i > 0; i--) {
            rng = (Math.imul(rng, 1103515245) + 12345) | 0
            const j = Math.abs(rng) % (i + 1)
            ;[out[i], out[j]] = [out[j]!, out[i]!]
          }
          return out
        }
        const run = (order: (gs: ReadonlyArray<Gid>) => ReadonlyArray<Gid>) => {
          let c = initial(n, "hash")
          const bytes: Array<string> = []
          for (const o of ops) {
            const next = step(c, o, order)
            if (next === undefined || Rebalance.isRefused(next)) continue
            c = next
            bytes.push(Buffer.from(codec.encode(toWire(c))).toString("hex"))
          }
          return bytes
        }
        const plain = run((gs) => gs)
        expect(run((gs) => gs)).toEqual(plain)
        expect(run(shuffle)).toEqual(plain)
      }),
      { numRuns: 300 }
    )
  })

  it("more groups than shards: each shard on a group, the extra groups with none", () => {
    let c = initial(10, "first-byte")
    const joined = Rebalance.join(c, new Map(Array.from({ length: 15 }, (_, i) => [i + 1, servers(i + 1)] as const)))
    c = joined as Config
    expect([...counts(c).values()].sort()).toEqual([...new Array(5).fill(0), ...new Array(10).fill(1)])
    // A gid re-used after it left is a fresh group.
    c = Rebalance.leave(c, [1, 2, 3, 4, 5]) as Config
    c = Rebalance.join(c, new Map([[3, ["again"]]])) as Config
    expect(c.groups.get(3)).toEqual(["again"])
    expect(Rebalance.isBalanced(c)).toBe(true)
    // The last group leaving returns every shard to gid 0.
    c = Rebalance.leave(c, [...c.groups.keys()]) as Config
    expect(c.shards).toEqual(new Array(10).fill(0))
  })

  it("refuses what cannot apply, with a reason", () => {
    const c = Rebalance.join(initial(10, "hash"), new Map([[5, ["a"]]])) as Config
    const reasons = [
      Rebalance.join(c, new Map([[5, ["b"]]])),
      Rebalance.join(c, new Map([[6, []]])),
      Rebalance.join(c, new Map([[0, ["z"]]])),
      Rebalance.leave(c, [7]),
      Rebalance.move(c, 10, 5),
      Rebalance.move(c, 1, 9)
    ].map((o) => (Rebalance.isRefused(o) ? o.reason : "applied"))
    expect(reasons).toEqual([
      "group 5 has already joined",
      "group 6 has no servers",
      "gid 0 is not a positive integer",
      "group 7 has not joined",
      "shard 10 is out of range (0 to 9)",
      "group 9 has not joined"
    ])
    // A move to the current owner still makes a new config.
    const same = Rebalance.move(c, 0, 5) as Config
    expect(same.num).toBe(c.num + 1)
  })
})

describe("key → shard", () => {
  it("hash is 32-bit FNV-1a over UTF-8 (known vectors, and equal to a TextEncoder reference)", () => {
    expect(fnv1a("")).toBe(0x811c9dc5)
    expect(fnv1a("a")).toBe(0xe40c292c)
    expect(fnv1a("foobar")).toBe(0xbf9cf968)
    const reference = (s: string) => {
      let h = 2166136261
      for (const b of new TextEncoder().encode(s)) h = Math.imul(h ^ b, 16777619) >>> 0
      return h >>> 0
    }
    fc.assert(fc.property(fc.string({ unit: "binary" }), (s) => fnv1a(s) === reference(s)), { numRuns: 500 })
  })

  it("hash spreads keys that share a prefix; first-byte is 6.824's key2shard", () => {
    expect(shardOfKey("hash", 10, "user:17")).not.toBe(shardOfKey("hash", 10, "user:42"))
    const per = new Array(10).fill(0)
    for (let i = 0; i < 10_000; i++) per[shardOfKey("hash", 10, `user:${i}`)]++
    for (const n of per) expect(n).toBeGreaterThan(800)
    // "0".."9" map to shards 8, 9, 0, 1, ... 7 (SPEC §5.1); "" to 0; the first UTF-8 byte otherwise.
    expect(Array.from({ length: 10 }, (_, i) => shardOfKey("first-byte", 10, String(i)))).toEqual([8, 9, 0, 1, 2, 3, 4, 5, 6, 7])
    expect(shardOfKey("first-byte", 10, "")).toBe(0)
    expect(shardOfKey("first-byte", 10, "é")).toBe(0xc3 % 10)
    expect(shardOfKey("first-byte", 10, "user:17")).toBe(shardOfKey("first-byte", 10, "user:42"))
  })
})
