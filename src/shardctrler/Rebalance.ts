/**
 * The shard controller's rebalancer: pure functions from a configuration and a Join, Leave or Move to
 * the next configuration.
 *
 * **Balanced.** After a Join or Leave every group of the config serves ⌊n/k⌋ or ⌈n/k⌉ of the n shards
 * (k groups; with more groups than shards some serve none).
 *
 * **Minimal.** Every balanced assignment gives r = n mod k groups ⌈n/k⌉ shards and the others ⌊n/k⌋,
 * so it must move every shard of a group that is gone (or of gid 0), and every shard a group holds
 * beyond its target. Giving the larger targets to the groups that hold the most shards makes that
 * excess as small as it can be; the rebalancer then moves exactly those shards and no other, into the
 * groups below their target. (The excess and orphans add up to the groups' shortfall exactly: both
 * sides count the same n shards.) So on a Join from a balanced config no existing group gains a shard,
 * and on a Leave no surviving group loses one.
 *
 * **Deterministic.** Every choice is by number, never by the order of a map's entries: targets go to
 * groups by (shards held, descending; gid, ascending); a group over target gives up its
 * highest-numbered shards; the freed shards, ascending, fill the groups below target in gid order. The
 * same config and the same command give the identical next config on every replica.
 *
 * **Fresh.** A new config shares no array or map with the old one.
 *
 * Move assigns one shard exactly and is not followed by a rebalance (6.824's tests check the placement).
 * @since 0.1.0
 */
import { type Config, counts, type Gid } from "./Config.js"

/** Why a command cannot be applied to a config: a bad request, deterministically refused. */
export interface Refused {
  readonly _tag: "Refused"
  readonly reason: string
}

export type Outcome = Config | Refused

const refused = (reason: string): Refused => ({ _tag: "Refused", reason })

export const isRefused = (o: Outcome): o is Refused => "_tag" in o && o._tag === "Refused"

/**
 * Assigns the shards of `config` (whose groups are already the new ones) to be balanced, moving as few
 * as possible. Returns a new shards array.
 */
export const balance = (shards: ReadonlyArray<Gid>, groups: ReadonlyMap<Gid, unknown>): Array<Gid> => {
  const n = shards.length
  const out = shards.slice()
  const k = groups.size
  if (k === 0) return out.fill(0)
  const held = new Map<Gid, Array<number>>()
  for (const g of groups.keys()) held.set(g, [])
  const free: Array<number> = []
  for (let s = 0; s < n; s++) {
    const mine = held.get(out[s]!)
    if (mine === undefined) free.push(s)
    else mine.push(s)
  }
  const floor = Math.floor(n / k)
  const extra = n - floor * k
  // Larger targets to the groups holding the most: the least excess to move.
  const order = [...held.keys()].sort((a, b) => held.get(b)!.length - held.get(a)!.length || a - b)
  const target = new Map<Gid, number>()
  order.forEach((g, i) => target.set(g, floor + (i < extra ? 1 : 0)))
  for (const g of order) {
    const mine = held.get(g)!
    // `mine` is ascending: the highest-numbered shards go.
    while (mine.length > target.get(g)!) free.push(mine.pop()!)
  }
  free.sort((a, b) => a - b)
  let next = 0
  for (const g of [...held.keys()].sort((a, b) => a - b)) {
    for (let have = held.get(g)!.length; have < target.get(g)!; have++) out[free[next++]!] = g
  }
  return out
}

/** Adds `groups` (gid → servers; several at once) and rebalances. */
export const join = (config: Config, groups: ReadonlyMap<Gid, ReadonlyArray<string>>): Outcome => {
  if (groups.size === 0) return refused("join needs at least one group")
  for (const [g, servers] of groups) {
    if (!Number.isSafeInteger(g) || g <= 0) return refused(`gid ${g} is not a positive integer`)
    if (config.groups.has(g)) return refused(`group ${g} has already joined`)
    if (servers.length === 0) return refused(`group ${g} has no servers`)
  }
  const next = new Map<Gid, ReadonlyArray<string>>()
  for (const [g, s] of config.groups) next.set(g, s.slice())
  for (const [g, s] of groups) next.set(g, s.slice())
  return { num: config.num + 1, keyToShard: config.keyToShard, shards: balance(config.shards, next), groups: next }
}

/** Removes `gids` (several at once) and rebalances their shards onto the others (gid 0 if none is left). */
export const leave = (config: Config, gids: ReadonlyArray<Gid>): Outcome => {
  if (gids.length === 0) return refused("leave needs at least one gid")
  const leaving = new Set(gids)
  for (const g of leaving) if (!config.groups.has(g)) return refused(`group ${g} has not joined`)
  const next = new Map<Gid, ReadonlyArray<string>>()
  for (const [g, s] of config.groups) if (!leaving.has(g)) next.set(g, s.slice())
  return { num: config.num + 1, keyToShard: config.keyToShard, shards: balance(config.shards, next), groups: next }
}

/** Assigns `shard` to `gid` exactly, without rebalancing. A move to the current owner still makes a config. */
export const move = (config: Config, shard: number, gid: Gid): Outcome => {
  if (!Number.isSafeInteger(shard) || shard < 0 || shard >= config.shards.length) {
    return refused(`shard ${shard} is out of range (0 to ${config.shards.length - 1})`)
  }
  if (!config.groups.has(gid)) return refused(`group ${gid} has not joined`)
  const shards = config.shards.slice()
  shards[shard] = gid
  const groups = new Map<Gid, ReadonlyArray<string>>()
  for (const [g, s] of config.groups) groups.set(g, s.slice())
  return { num: config.num + 1, keyToShard: config.keyToShard, shards, groups }
}

/** Whether `config` is balanced: max − min ≤ 1 shards over its groups, and no shard off its groups. */
export const isBalanced = (config: Config): boolean => {
  const n = counts(config)
  if (n.size === 0) return config.shards.every((g) => g === 0)
  if (config.shards.some((g) => !n.has(g))) return false
  const values = [...n.values()]
  return Math.max(...values) - Math.min(...values) <= 1
}
