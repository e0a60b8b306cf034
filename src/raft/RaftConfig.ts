/**
 * Configuration of one Raft node.
 * @since 0.1.0
 */
import type { CoreConfig } from "./core/types.js"

export type { CoreConfig } from "./core/types.js"

export interface RaftConfig extends CoreConfig {
  /** Timeout of each Raft RPC; `undefined` leaves it to the Transport's default. */
  readonly rpcTimeoutMs: number | undefined
}

export const defaults: Omit<RaftConfig, "id" | "peers"> = {
  electionTimeoutMs: 500,
  heartbeatIntervalMs: 100,
  preVote: true,
  checkQuorum: true,
  leaderNoop: true,
  // Room for the key/value services' largest command (1 KiB key + 1 MiB value) in one entry.
  maxAppendBytes: 2 * 1024 * 1024,
  maxInflight: 64,
  maxApplyEntries: 4096,
  rpcTimeoutMs: undefined
}

/** A full configuration from the required fields plus any overrides. */
export const make = (
  options: Pick<RaftConfig, "id" | "peers"> & Partial<Omit<RaftConfig, "id" | "peers">>
): RaftConfig => {
  const config = { ...defaults, ...options }
  if (config.heartbeatIntervalMs <= 0 || config.electionTimeoutMs <= config.heartbeatIntervalMs) {
    throw new Error(
      `invalid Raft timing: heartbeat ${config.heartbeatIntervalMs} ms must be positive and below the ` +
        `election timeout ${config.electionTimeoutMs} ms`
    )
  }
  if (new Set(config.peers).size !== config.peers.length) throw new Error(`duplicate peer in ${config.peers.join(",")}`)
  if (!config.peers.includes(config.id)) throw new Error(`peers ${config.peers.join(",")} must include ${config.id}`)
  return config
}
