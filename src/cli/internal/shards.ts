/**
 * What `shard status`, `shard up` and `demo --shard` share: every replica's status, and counts of shard states.
 * @internal
 */
import { Effect, Either } from "effect"
import type { Transport } from "../../rpc/Transport.js"
import { type Config, gids } from "../../shardctrler/Config.js"
import { ShardStatus } from "../../shardkv/Messages.js"

/** Every replica of every group of `config`: its status, or undefined if it did not answer. */
export const groupStatuses = (transport: Transport["Type"], config: Config) =>
  Effect.forEach(gids(config), (gid) =>
    Effect.forEach(config.groups.get(gid)!, (server) =>
      Effect.map(Effect.either(transport.call(server, new ShardStatus({}, true))), (r) => ({ gid, server, status: Either.getOrUndefined(r) })), {
      concurrency: "unbounded"
    }), { concurrency: "unbounded" }).pipe(Effect.map((rows) => rows.flat()))

export const countStates = (shards: Readonly<Record<string, string>>) => {
  const n = { serving: 0, pulling: 0, sending: 0 }
  for (const s of Object.values(shards)) n[s as keyof typeof n]++
  return n
}

