/**
 * A shard configuration: which replica group serves each shard, and which servers each group has.
 * Configurations are numbered from 0 (no groups, every shard on the invalid gid 0); every Join,
 * Leave and Move makes the next one. The number of shards and the key→shard function are fixed when
 * a controller cluster is created and travel in every configuration, so servers and clients learn
 * them from the configs they fetch.
 * @since 0.1.0
 */
import { Schema } from "effect"

/** A replica group's id; 0 is "no group". */
export type Gid = number

/**
 * How a key is mapped to a shard:
 * - `"hash"`: 32-bit FNV-1a (offset basis 2166136261, prime 16777619) over the key's UTF-8 bytes,
 *   unsigned, mod nShards; the default of a real cluster (`user:17` and `user:42` land apart);
 * - `"first-byte"`: 6.824's key2shard, the first byte of the key mod nShards, "" → 0.
 */
export type KeyToShard = "hash" | "first-byte"

export interface Config {
  readonly num: number
  readonly keyToShard: KeyToShard
  /** shard → gid; its length is the number of shards. */
  readonly shards: ReadonlyArray<Gid>
  /** gid → its servers' names (on the Transport: server names, or host:port addresses). */
  readonly groups: ReadonlyMap<Gid, ReadonlyArray<string>>
}

/** The default number of shards (6.824's NShards). */
export const DEFAULT_SHARDS = 10

/** Configuration 0: no groups, every shard on gid 0. */
export const initial = (nShards: number = DEFAULT_SHARDS, keyToShard: KeyToShard = "hash"): Config => {
  if (!Number.isSafeInteger(nShards) || nShards < 1) throw new Error(`nShards must be a positive integer, got ${nShards}`)
  return { num: 0, keyToShard, shards: new Array<Gid>(nShards).fill(0), groups: new Map() }
}

const utf8 = new TextEncoder()

/** 32-bit FNV-1a over the UTF-8 bytes of `key`, unsigned (no allocation: keys route every request). */
export const fnv1a = (key: string): number => {
  let h = 2166136261
  const byte = (b: number) => {
    h = Math.imul(h ^ b, 16777619)
  }
  for (let i = 0; i < key.length; i++) {
    let c = key.charCodeAt(i)
    if (c < 0x80) byte(c)
    else if (c < 0x800) {
      byte(0xc0 | (c >> 6))
      byte(0x80 | (c & 0x3f))
    } else {
      if (c >= 0xd800 && c < 0xdc00 && i + 1 < key.length) {
        const d = key.charCodeAt(i + 1)
        if (d >= 0xdc00 && d < 0xe000) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00)
          i++
          byte(0xf0 | (c >> 18))
          byte(0x80 | ((c >> 12) & 0x3f))
          byte(0x80 | ((c >> 6) & 0x3f))
          byte(0x80 | (c & 0x3f))
          continue
        }
      }
      // A lone surrogate encodes as U+FFFD, as TextEncoder does.
      if (c >= 0xd800 && c < 0xe000) c = 0xfffd
      byte(0xe0 | (c >> 12))
      byte(0x80 | ((c >> 6) & 0x3f))
      byte(0x80 | (c & 0x3f))
    }
  }
  return h >>> 0
}

/** The shard of `key` under `keyToShard` with `nShards` shards. */
export const shardOfKey = (keyToShard: KeyToShard, nShards: number, key: string): number => {
  if (keyToShard === "hash") return fnv1a(key) % nShards
  if (key.length === 0) return 0
  // The first UTF-8 byte of the key, as Go's key[0].
  const c = key.charCodeAt(0)
  return (c < 0x80 ? c : utf8.encode(key.slice(0, 2))[0]!) % nShards
}

/** The shard of `key` in `config`. */
export const shardOf = (config: Config, key: string): number => shardOfKey(config.keyToShard, config.shards.length, key)

/** The gids of `config`, ascending. */
export const gids = (config: Config): ReadonlyArray<Gid> => [...config.groups.keys()].sort((a, b) => a - b)

/** Shards per gid (0 for a group with none), for the config's groups. */
export const counts = (config: Config): Map<Gid, number> => {
  const n = new Map<Gid, number>()
  for (const g of config.groups.keys()) n.set(g, 0)
  for (const g of config.shards) if (n.has(g)) n.set(g, n.get(g)! + 1)
  return n
}

// -- the wire and snapshot form ----------------------------------------------------------------

/** A config as it travels: groups as `[gid, servers]` pairs in gid order. */
export const ConfigSchema = Schema.Struct({
  num: Schema.NonNegativeInt,
  keyToShard: Schema.Literal("hash", "first-byte"),
  shards: Schema.Array(Schema.NonNegativeInt),
  groups: Schema.Array(Schema.Tuple(Schema.NonNegativeInt, Schema.Array(Schema.String)))
})
export type ConfigWire = typeof ConfigSchema.Type

export const toWire = (c: Config): ConfigWire => ({
  num: c.num,
  keyToShard: c.keyToShard,
  shards: c.shards,
  groups: gids(c).map((g) => [g, c.groups.get(g)!] as const)
})

export const fromWire = (w: ConfigWire): Config => ({
  num: w.num,
  keyToShard: w.keyToShard,
  shards: w.shards,
  groups: new Map(w.groups.map(([g, s]) => [g, s]))
})

/** A config as JSON (the HTTP APIs): `{"num", "shards", "groups": {"100": [...]}, "keyToShard"}`. */
export const toJson = (c: Config) => ({
  num: c.num,
  shards: c.shards,
  groups: Object.fromEntries(gids(c).map((g) => [String(g), c.groups.get(g)!])),
  keyToShard: c.keyToShard
})

/** Whether two configs are the same (num, shards, the same groups with the same servers in order). */
export const equals = (a: Config, b: Config): boolean =>
  a.num === b.num && a.keyToShard === b.keyToShard && a.shards.length === b.shards.length &&
  a.shards.every((g, i) => g === b.shards[i]) && a.groups.size === b.groups.size &&
  [...a.groups].every(([g, s]) => {
    const t = b.groups.get(g)
    return t !== undefined && t.length === s.length && s.every((x, i) => x === t[i])
  })
