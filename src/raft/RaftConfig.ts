/**
 * Configuration of one Raft node.
 * @since 0.1.0
 */
import type { NodeId } from "../rpc/Transport.js"

export interface RaftConfig {
  /** This node's id (its name on the Transport). */
  readonly id: NodeId
  /** Every voting member, this node included. All nodes must list the same members. */
  readonly peers: ReadonlyArray<NodeId>
  /**
   * Election timeouts are drawn uniformly from [electionTimeoutMs, 2 * electionTimeoutMs). A leader with
   * CheckQuorum steps down after one electionTimeoutMs without hearing from a majority.
   */
  readonly electionTimeoutMs: number
  /** Heartbeat period of a leader. Keep it well under electionTimeoutMs (etcd: 1/10). */
  readonly heartbeatIntervalMs: number
  /** Campaign only after a pre-vote round shows a majority would vote (thesis §9.6). */
  readonly preVote: boolean
  /** A leader steps down without a majority; followers that hear from a leader ignore campaigns. */
  readonly checkQuorum: boolean
  /**
   * A new leader appends an empty entry so that entries of earlier terms commit and ReadIndex works
   * at once. Applications see it as an `ApplyMsg` of kind "Noop". (The 6.824 Raft tests turn it off:
   * they assert exact log indices.)
   */
  readonly leaderNoop: boolean
  /** Bytes of entries per AppendEntries (at least one entry is always sent). */
  readonly maxAppendBytes: number
  /** AppendEntries in flight per follower while replicating (pipelining). */
  readonly maxInflight: number
  /** Committed entries handed to the application per batch. */
  readonly maxApplyEntries: number
  /** Timeout of each Raft RPC; `undefined` leaves it to the Transport's default. */
  readonly rpcTimeoutMs: number | undefined
}

export const defaults: Omit<RaftConfig, "id" | "peers"> = {
  electionTimeoutMs: 500,
  heartbeatIntervalMs: 100,
  preVote: true,
  checkQuorum: true,
  leaderNoop: true,
  maxAppendBytes: 1024 * 1024,
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
