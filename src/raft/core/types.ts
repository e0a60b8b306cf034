/**
 * The vocabulary Raft's pure core shares with its storage and its shell: node ids, log entries, hard
 * state, snapshots. Plain data with no imports, so that the core, the storage Layers and the wire
 * schemas can all depend on it without depending on each other.
 * @since 0.1.0
 */

/** The name of a node: a simulated server name, or a peer id that the TCP Layer maps to an address. */
export type NodeId = string

/**
 * What an entry carries: a user command, the empty entry a new leader appends, or a new cluster
 * configuration (`Membership`, encoded by `core/Membership.ts`), which takes effect as soon as it is in
 * a node's log, committed or not.
 */
export const EntryKind = {
  Command: 0,
  Noop: 1,
  Config: 2
} as const
export type EntryKind = (typeof EntryKind)[keyof typeof EntryKind]

/** One log entry. `data` is opaque to Raft. */
export interface LogEntry {
  readonly index: number
  readonly term: number
  readonly kind: EntryKind
  readonly data: Uint8Array
}

/**
 * The members of a cluster: voters (elect leaders, count toward commit) and learners (receive the log
 * and snapshots, never vote). `addresses` holds the Transport addresses (`host:port`) that are known
 * for members, so that every node can reach a member added after it started; empty in simulation,
 * where nodes are reached by id.
 */
export interface Membership {
  readonly voters: ReadonlyArray<NodeId>
  readonly learners: ReadonlyArray<NodeId>
  readonly addresses: Readonly<Record<NodeId, string>>
}

/** Term, vote and commit index: what a node must remember across a crash besides the log. */
export interface HardState {
  readonly term: number
  readonly vote: string | null
  readonly commit: number
  /**
   * Present on a node that started with no state and did not bootstrap a cluster (it joined): such a
   * node may be a voter that lost its disk, and must not vote until it has been re-admitted (see
   * `RaftCore`'s amnesia guard). 0 until it first hears from a leader; then 1 + that leader's commit
   * index. Absent on every other node.
   */
  readonly rejoin?: number
}

export const emptyHardState: HardState = { term: 0, vote: null, commit: 0 }

/** A state-machine snapshot covering the log up to and including `index` (whose term is `term`). */
export interface Snapshot {
  readonly index: number
  readonly term: number
  readonly data: Uint8Array
  /** The configuration in effect at `index`. Absent: the bootstrap configuration (`CoreConfig.peers`). */
  readonly membership?: Membership
}

/** Everything a node finds when it starts. `entries` follow the snapshot (or start at index 1). */
export interface Persisted {
  readonly hardState: HardState
  readonly snapshot: Snapshot | undefined
  readonly entries: ReadonlyArray<LogEntry>
}

/** The protocol's configuration (`RaftConfig` adds what only the shell uses). */
export interface CoreConfig {
  /** This node's id (its name on the Transport). */
  readonly id: NodeId
  /**
   * The bootstrap configuration: every voting member, this node included, identical on all nodes of a
   * new cluster. Used until the log or a snapshot holds a configuration. Empty for a node that joins an
   * existing cluster: it waits, a non-voter, for its configuration to arrive from the leader.
   */
  readonly peers: ReadonlyArray<NodeId>
  /** Transport addresses of the bootstrap peers, when known: recorded in every configuration entry. */
  readonly addresses?: Readonly<Record<NodeId, string>>
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
  /** Bytes of entries per AppendEntries; a proposal larger than this is refused. */
  readonly maxAppendBytes: number
  /** AppendEntries in flight per follower while replicating (pipelining). */
  readonly maxInflight: number
  /** Committed entries handed to the application per batch. */
  readonly maxApplyEntries: number
}
