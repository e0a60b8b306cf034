/**
 * The Raft protocol as a deterministic state machine, in the style of etcd-io/raft.
 *
 * `step(event)` feeds one input (a timer tick, an inbound request, a response to one of our requests,
 * a transport failure, a proposal, a read request, a snapshot from the application); `ready()` drains
 * what the node must now do, in order: persist (snapshot, then entries and hard state), then send
 * messages and replies, then apply committed entries; `advance()` says that Ready was persisted.
 * No I/O, no clock (time arrives in events), no ambient randomness (a seeded generator is part of the
 * state): the same events give the same outputs.
 *
 * The state is mutated in place rather than returned anew: copying a log per event would cost more
 * than the protocol itself. The contract is unchanged: `ready()` output is a function of the events.
 *
 * Beyond the paper: PreVote and CheckQuorum (§9.6 of Ongaro's thesis), ReadIndex (§6.4), leadership
 * transfer (§3.10), per-follower progress (probe / replicate / snapshot), batching (proposals are only
 * marked; one AppendEntries per follower carries everything new at the next `ready()`), pipelining
 * (up to `maxInflight` appends in flight), the 6.824 fast log backtracking (conflict term/index).
 *
 * **Membership** (`Membership.ts` has the design choice: one server at a time, with learners). The
 * configuration is a log entry (`EntryKind.Config`) and part of every snapshot; a node uses the latest
 * one in its log, committed or not, and falls back to the previous one if that entry is truncated. Only
 * voters campaign, count votes, and count toward commit, reads and CheckQuorum; learners and
 * non-members still answer votes (a candidate may know them as voters before they do, §4.2.1) but
 * the candidate counts only its own configuration's voters. The pitfalls:
 * - a leader changes the configuration only when the previous change has committed and an entry of
 *   its own term has (the thesis errata: otherwise a leader elected without the uncommitted change of
 *   a deposed leader could commit a change whose majorities do not intersect that one's);
 * - a leader removed from the configuration keeps leading (without counting itself) until the removal
 *   commits, then hands over with TimeoutNow to its most up-to-date voter and steps down;
 * - a removed member is still sent the log until it holds the committed removal, so it learns it is
 *   out (and its shell can stop); members that never hear of it cannot disrupt: they fail PreVote
 *   (their log lacks the removal) and CheckQuorum makes followers ignore them while a leader is alive;
 * - amnesia: a node that started with no state without bootstrapping (`peers` empty: it joined) may be
 *   a voter that lost its disk and forgot its votes. It grants no vote and never campaigns until a
 *   configuration committed at or after the commit index it first heard of shows it is not a voter —
 *   i.e. until it has been removed (or was only ever a learner) and is re-admitted by a promotion made
 *   after it came back (`HardState.rejoin`, persisted, so a restart keeps the guard).
 * @internal
 */
import * as Members from "./Membership.js"
import {
  type CoreConfig,
  EntryKind,
  type HardState,
  type LogEntry,
  type Membership,
  type NodeId,
  type Persisted,
  type Snapshot
} from "./types.js"
import type {
  AppendEntries,
  AppendEntriesReply,
  Heartbeat,
  HeartbeatReply,
  InstallSnapshot,
  InstallSnapshotReply,
  RaftRequest,
  RaftResponse,
  RequestVote,
  RequestVoteReply,
  TimeoutNow
} from "./messages.js"
import { Progress } from "./Progress.js"
import { RaftLog } from "./RaftLog.js"

export type { CoreConfig } from "./types.js"

export type Role = "Follower" | "PreCandidate" | "Candidate" | "Leader"

export type Event =
  /** Time passed; run whatever timers are due. */
  | { readonly _tag: "Tick"; readonly now: number }
  /** An inbound RPC. Its reply comes out of a later `ready()` under `token`, after persistence. */
  | { readonly _tag: "Request"; readonly now: number; readonly from: NodeId; readonly request: RaftRequest; readonly token: number }
  /** The reply to a request we sent. */
  | {
    readonly _tag: "Response"
    readonly now: number
    readonly from: NodeId
    readonly request: RaftRequest
    readonly response: RaftResponse
  }
  /** A request we sent got no reply (lost, timed out, peer unreachable). */
  | { readonly _tag: "Failure"; readonly now: number; readonly to: NodeId; readonly request: RaftRequest }
  /** The application snapshotted its state through `index`. */
  | { readonly _tag: "Compact"; readonly index: number; readonly data: Uint8Array }
  /** Ask the leader to hand leadership to `to`. */
  | { readonly _tag: "TransferLeader"; readonly now: number; readonly to: NodeId }
  /** A linearizable read: answered in `Ready.reads` once leadership is confirmed. */
  | { readonly _tag: "ReadIndex"; readonly now: number; readonly token: number }

export interface Outgoing {
  readonly to: NodeId
  readonly request: RaftRequest
}

export interface Ready {
  /**
   * Persist first: a snapshot (from the leader, or the application's), then `entries` and `hardState`.
   * `hardState` is present when term or vote changed, or when entries are written anyway.
   */
  readonly snapshot: { readonly snapshot: Snapshot; readonly discardLog: boolean } | undefined
  /** Entries to persist; they replace any stored entries from `entries[0].index` on. */
  readonly entries: ReadonlyArray<LogEntry>
  readonly hardState: HardState | undefined
  /** Then send. */
  readonly messages: ReadonlyArray<Outgoing>
  /**
   * The messages may leave before the persistence above completes (the leader writes its log in
   * parallel with replicating it, thesis §10.2.1): set only for a leader whose Ready changes neither
   * term nor vote and installs no snapshot. Safe because the leader counts its own log toward commit
   * only once it is durable (`advance`). Replies never go before persistence.
   */
  readonly sendBeforePersist: boolean
  readonly replies: ReadonlyArray<{ readonly token: number; readonly response: RaftResponse }>
  /** Then apply: a snapshot from the leader first, then committed entries in order. */
  readonly applySnapshot: Snapshot | undefined
  readonly committed: ReadonlyArray<LogEntry>
  /** Reads confirmed at `index` (serve them once the state machine has applied `index`). */
  readonly reads: ReadonlyArray<{ readonly token: number; readonly index: number }>
  /** Reads that cannot be served here: this node is not (or no longer) the leader. */
  readonly readFailures: ReadonlyArray<{ readonly token: number; readonly leader: NodeId | null }>
}

/** The configuration a node uses now, and how it got there (`RaftCore.membership()`). */
export interface MembershipStatus {
  readonly membership: Membership
  /** The index of the entry (or snapshot) that set it; 0 for the bootstrap configuration. */
  readonly index: number
  /** Whether that entry is known to be committed. */
  readonly committed: boolean
  /** This node refuses to vote: it joined without state and has not been re-admitted (amnesia guard). */
  readonly rejoining: boolean
}

export type ChangeResult =
  | { readonly _tag: "Accepted"; readonly index: number; readonly term: number; readonly membership: Membership }
  | Members.Refusal

export type ProposeResult =
  | { readonly _tag: "Accepted"; readonly index: number; readonly term: number }
  | { readonly _tag: "NotLeader"; readonly leader: NodeId | null }
  /** Larger than one AppendEntries may carry (`maxAppendBytes`): it could never be replicated promptly. */
  | { readonly _tag: "TooLarge"; readonly limit: number }

export interface Status {
  readonly id: NodeId
  readonly term: number
  readonly role: Role
  readonly leader: NodeId | null
  readonly vote: NodeId | null
  readonly commit: number
  readonly applied: number
  readonly firstIndex: number
  readonly lastIndex: number
  readonly lastTerm: number
  readonly snapshotIndex: number
}

/** A violated protocol invariant: a bug, reported loudly. */
export class InvariantViolation extends Error {
  override readonly name = "InvariantViolation"
}

const assert = (condition: boolean, message: () => string) => {
  if (!condition) throw new InvariantViolation(message())
}

export class RaftCore {
  // persistent state
  private term: number
  private vote: NodeId | null
  private commit: number
  readonly log: RaftLog

  // volatile state
  private role: Role = "Follower"
  private leader: NodeId | null = null
  private applied: number
  private now: number
  private electionDeadline = 0
  /** The randomized election timeout in force: drawn anew at each role change and vote, not per message. */
  private electionTimeout = 0
  private heartbeatDeadline = 0
  private lastLeaderContact = -Infinity
  private readonly votes = new Map<NodeId, boolean>()
  private readonly progress = new Map<NodeId, Progress>()
  private transferee: NodeId | null = null
  private transferDeadline = Infinity
  private rng: number

  // membership
  private members: Membership
  private membersIndex: number
  private membersKnown = true
  /** The bootstrap configuration, used when neither the log nor the snapshot holds one. */
  private readonly initialMembers: Membership
  /** Removed members still being sent the log until they hold their committed removal: id -> its index. */
  private readonly leaving = new Map<NodeId, number>()
  /** See `HardState.rejoin`: undefined on a node that may vote. */
  private rejoin: number | undefined

  // ReadIndex
  private readRound = 0
  private readRoundOpen = false
  private pendingReads: Array<{ token: number; index: number; round: number }> = []
  private readsAwaitingCommit: Array<number> = []

  // persistence bookkeeping
  private savedHardState: HardState
  private unstableFrom: number
  private stableIndex: number
  private persistingTo = 0
  private pendingSnapshot: { snapshot: Snapshot; discardLog: boolean } | undefined
  private applySnapshot: Snapshot | undefined
  private appendNeeded = false

  // outputs
  private messages: Array<Outgoing> = []
  private replies: Array<{ token: number; response: RaftResponse }> = []
  private reads: Array<{ token: number; index: number }> = []
  private readFailures: Array<{ token: number; leader: NodeId | null }> = []

  constructor(readonly config: CoreConfig, persisted: Persisted, now: number, seed: number) {
    assert(
      config.peers.length === 0 || config.peers.includes(config.id),
      () => `peers ${config.peers.join(",")} must include self ${config.id}`
    )
    this.term = persisted.hardState.term
    this.vote = persisted.hardState.vote
    this.log = new RaftLog(persisted.snapshot, persisted.entries)
    this.commit = Math.max(persisted.hardState.commit, this.log.snapshotIndex)
    this.applied = this.log.snapshotIndex
    this.savedHardState = persisted.hardState
    this.unstableFrom = this.log.lastIndex + 1
    this.stableIndex = this.log.lastIndex
    this.now = now
    this.rng = (seed | 0) || 0x9e3779b9
    this.initialMembers = Members.bootstrap(config.peers, config.addresses)
    this.members = this.initialMembers
    this.membersIndex = 0
    this.refreshMembership()
    const empty = persisted.hardState.term === 0 && persisted.hardState.vote === null && persisted.entries.length === 0 &&
      persisted.snapshot === undefined
    // A joining node with no state might be a voter that lost its disk: guard until re-admitted.
    this.rejoin = persisted.hardState.rejoin ?? (empty && config.peers.length === 0 ? 0 : undefined)
    this.checkRejoin()
    this.resetElectionTimer()
  }

  // -- membership ------------------------------------------------------------------------------

  /** The voters' majority. */
  private get quorum(): number {
    return Math.floor(this.members.voters.length / 2) + 1
  }

  private get isVoter(): boolean {
    return Members.isVoter(this.members, this.config.id)
  }

  /** Voters other than this node: who is asked for votes. */
  private otherVoters(): Array<NodeId> {
    return this.members.voters.filter((v) => v !== this.config.id)
  }

  /**
   * The configuration in effect at index `i` (the latest configuration entry at or before it). A
   * joining node does not know the configuration until the leader sends one (`known` false: its
   * empty bootstrap configuration is a placeholder, not the cluster's).
   */
  private membershipAt(i: number): { readonly membership: Membership; readonly index: number; readonly known: boolean } {
    if (i >= this.membersIndex) return { membership: this.members, index: this.membersIndex, known: this.membersKnown }
    for (let j = Math.min(i, this.log.lastIndex); j > this.log.snapshotIndex; j--) {
      const e = this.log.entry(j)!
      if (e.kind === EntryKind.Config) return { membership: Members.decode(e.data), index: j, known: true }
    }
    const s = this.log.snapshot
    return s?.membership !== undefined
      ? { membership: s.membership, index: s.index, known: true }
      : { membership: this.initialMembers, index: 0, known: this.config.peers.length > 0 }
  }

  /** Recomputes the configuration from the whole log (after a truncation or a snapshot from the leader). */
  private refreshMembership() {
    this.membersIndex = Infinity
    const m = this.membershipAt(this.log.lastIndex)
    this.members = m.membership
    this.membersIndex = m.index
    this.membersKnown = m.known
  }

  /** Entries from `from` on are new in the log: adopt the last configuration among them. */
  private noticeNewEntries(from: number) {
    if (from <= this.membersIndex) return this.refreshMembership()
    for (let j = this.log.lastIndex; j >= from; j--) {
      const e = this.log.entry(j)!
      if (e.kind === EntryKind.Config) {
        this.members = Members.decode(e.data)
        this.membersIndex = j
        this.membersKnown = true
        return
      }
    }
  }

  /** The amnesia guard is lifted once the configuration committed since this node came back excludes it as voter. */
  private checkRejoin() {
    if (this.rejoin === undefined || this.rejoin === 0 || this.commit < this.rejoin - 1) return
    const committed = this.membershipAt(this.commit)
    if (committed.known && !Members.isVoter(committed.membership, this.config.id)) this.rejoin = undefined
  }

  /** A leader replicates to every member but itself, and to removed members until they hold their removal. */
  private syncProgress() {
    const wanted = new Set(Members.members(this.members))
    wanted.delete(this.config.id)
    for (const id of this.progress.keys()) {
      if (!wanted.has(id) && !this.leaving.has(id)) {
        // Removed by the entry just appended: keep sending it the log until it holds the removal.
        this.leaving.set(id, this.membersIndex)
      }
    }
    for (const id of wanted) {
      this.leaving.delete(id)
      if (!this.progress.has(id)) this.progress.set(id, new Progress(this.log.lastIndex + 1, this.config.maxInflight, this.now))
    }
  }

  /** A leaving member that acknowledged `commit` ≥ its removal, and holds it, is sent nothing more. */
  private maybeForget(id: NodeId, p: Progress, commitSent: number) {
    const removedAt = this.leaving.get(id)
    if (removedAt === undefined || p.match < removedAt || commitSent < removedAt) return
    this.leaving.delete(id)
    this.progress.delete(id)
  }

  /** The configuration now (latest in the log, committed or not). */
  membership(): MembershipStatus {
    return {
      membership: this.members,
      index: this.membersIndex,
      committed: this.membersIndex <= this.commit,
      rejoining: this.rejoin !== undefined
    }
  }

  /**
   * Proposes a configuration change (leader only): one server at a time, the previous change
   * committed, and an entry of this leader's term committed (see the module comment).
   */
  proposeChange(change: Members.Change): ChangeResult {
    if (this.role !== "Leader") return { _tag: "NotLeader", leader: this.leader }
    if (this.transferee !== null) return { _tag: "NotLeader", leader: this.transferee }
    if (this.membersIndex > this.commit) {
      return { _tag: "ChangeInProgress", detail: `the configuration at index ${this.membersIndex} is not committed yet` }
    }
    if (this.log.term(this.commit) !== this.term) {
      return { _tag: "ChangeInProgress", detail: `this leader has not committed an entry of its term ${this.term} yet` }
    }
    if (change._tag === "Promote") {
      const p = this.progress.get(change.id)
      if (p !== undefined && Members.isLearner(this.members, change.id)) {
        // Caught up: holds everything committed and answered within an election timeout.
        const active = this.now - p.lastActiveAt < this.config.electionTimeoutMs
        if (p.match < this.commit || !active) return { _tag: "NotCaughtUp", id: change.id, match: p.match, commit: this.commit }
      }
    }
    const next = Members.apply(this.members, change)
    if (Members.isRefusal(next)) return next
    const entry: LogEntry = { index: this.log.lastIndex + 1, term: this.term, kind: EntryKind.Config, data: Members.encode(next) }
    this.log.append(entry)
    this.members = next
    this.membersIndex = entry.index
    this.syncProgress()
    this.appendNeeded = true
    if (this.transferee !== null && !Members.isVoter(next, this.transferee)) this.abortTransfer()
    return { _tag: "Accepted", index: entry.index, term: entry.term, membership: next }
  }

  // -- queries ---------------------------------------------------------------------------------

  /** The role, leader and term now (cheap, for the shell's change detection; `status()` has all). */
  get currentRole(): Role {
    return this.role
  }

  get currentLeader(): NodeId | null {
    return this.leader
  }

  get currentTerm(): number {
    return this.term
  }

  status(): Status {
    return {
      id: this.config.id,
      term: this.term,
      role: this.role,
      leader: this.leader,
      vote: this.vote,
      commit: this.commit,
      applied: this.applied,
      firstIndex: this.log.firstIndex,
      lastIndex: this.log.lastIndex,
      lastTerm: this.log.lastTerm,
      snapshotIndex: this.log.snapshotIndex
    }
  }

  /** When the next timer is due (simulated or real ms); the shell calls `step(Tick)` then. */
  nextDeadline(): number {
    if (this.role !== "Leader") return this.electionDeadline
    return Math.min(this.heartbeatDeadline, this.transferDeadline)
  }

  /** Progress of each follower (leader only), for status pages and tests. */
  followers(): ReadonlyArray<{
    readonly id: NodeId
    readonly match: number
    readonly next: number
    readonly state: string
    readonly inflight: number
  }> {
    return [...this.progress].map(([id, p]) => ({ id, match: p.match, next: p.next, state: p.state, inflight: p.inflights.length }))
  }

  /** Each follower's match index and when it last answered (leader only): for "caught up" displays. */
  followerProgress(id: NodeId): { readonly match: number; readonly lastActiveAt: number } | undefined {
    const p = this.progress.get(id)
    return p === undefined ? undefined : { match: p.match, lastActiveAt: p.lastActiveAt }
  }

  // -- input -----------------------------------------------------------------------------------

  step(event: Event): void {
    switch (event._tag) {
      case "Tick":
        return this.tick(event.now)
      case "Request":
        this.now = Math.max(this.now, event.now)
        return this.onRequest(event.from, event.request, event.token)
      case "Response":
        this.now = Math.max(this.now, event.now)
        return this.onResponse(event.from, event.request, event.response)
      case "Failure":
        this.now = Math.max(this.now, event.now)
        return this.onFailure(event.to, event.request)
      case "Compact":
        return this.compact(event.index, event.data)
      case "TransferLeader":
        this.now = Math.max(this.now, event.now)
        return this.transferLeadership(event.to)
      case "ReadIndex":
        this.now = Math.max(this.now, event.now)
        return this.readIndex(event.token)
    }
  }

  /** Appends a command if this node leads; the index and term it will have if committed. */
  propose(data: Uint8Array, kind: EntryKind = EntryKind.Command): ProposeResult {
    if (this.role !== "Leader") return { _tag: "NotLeader", leader: this.leader }
    // During a transfer new entries would only delay the transferee's catch-up (etcd drops them too).
    if (this.transferee !== null) return { _tag: "NotLeader", leader: this.transferee }
    // An entry above the message size would be sent alone in every AppendEntries until it committed,
    // each send taking longer than a heartbeat period on a slow link: refuse it here instead.
    if (data.length > this.config.maxAppendBytes) return { _tag: "TooLarge", limit: this.config.maxAppendBytes }
    const entry: LogEntry = { index: this.log.lastIndex + 1, term: this.term, kind, data }
    this.log.append(entry)
    this.appendNeeded = true
    return { _tag: "Accepted", index: entry.index, term: entry.term }
  }

  // -- output ----------------------------------------------------------------------------------

  hasReady(): boolean {
    return this.messages.length > 0 || this.replies.length > 0 || this.appendNeeded || this.readRoundOpen ||
      this.unstableFrom <= this.log.lastIndex || this.pendingSnapshot !== undefined ||
      this.applySnapshot !== undefined || this.reads.length > 0 || this.readFailures.length > 0 ||
      this.termOrVoteChanged() || this.applied < this.commit
  }

  ready(): Ready {
    if (this.appendNeeded) {
      this.appendNeeded = false
      if (this.role === "Leader") for (const p of this.progress.keys()) this.sendAppend(p)
    }
    if (this.readRoundOpen) {
      this.readRoundOpen = false
      if (this.role === "Leader") this.broadcastHeartbeat()
    }
    const snapshot = this.pendingSnapshot
    const fromIndex = Math.max(this.unstableFrom, this.log.snapshotIndex + 1)
    const entries = this.log.slice(fromIndex, this.log.lastIndex + 1)
    // The commit index rides along with writes that happen anyway: on its own it is not worth a write
    // (an fsync per commit advance). After a restart it is at least what was saved, and the leader
    // brings it up to date.
    const termOrVote = this.termOrVoteChanged()
    const writing = entries.length > 0 || snapshot !== undefined || termOrVote
    const hardState = writing && this.hardStateChanged() ? this.hardState() : undefined
    const applySnapshot = this.applySnapshot
    const committed = this.log.slice(this.applied + 1, Math.min(this.commit, this.log.lastIndex) + 1)
      .slice(0, this.config.maxApplyEntries)
    if (applySnapshot !== undefined) this.applied = Math.max(this.applied, applySnapshot.index)
    if (committed.length > 0) this.applied = committed[committed.length - 1]!.index
    const ready: Ready = {
      snapshot,
      entries,
      hardState,
      messages: this.messages,
      sendBeforePersist: this.role === "Leader" && !termOrVote && snapshot === undefined,
      replies: this.replies,
      applySnapshot,
      committed,
      reads: this.reads,
      readFailures: this.readFailures
    }
    if (hardState !== undefined) this.savedHardState = hardState
    this.pendingSnapshot = undefined
    this.applySnapshot = undefined
    this.unstableFrom = this.log.lastIndex + 1
    this.persistingTo = this.log.lastIndex
    this.messages = []
    this.replies = []
    this.reads = []
    this.readFailures = []
    return ready
  }

  /** The last Ready was persisted. */
  advance(): void {
    this.stableIndex = Math.max(this.stableIndex, this.persistingTo)
    if (this.role === "Leader") this.maybeCommit()
  }

  // -- timers ----------------------------------------------------------------------------------

  private tick(now: number) {
    this.now = Math.max(this.now, now)
    if (this.role === "Leader") {
      if (this.transferee !== null && this.now >= this.transferDeadline) this.abortTransfer()
      if (this.now >= this.heartbeatDeadline) {
        if (this.config.checkQuorum && !this.hasActiveQuorum()) return this.becomeFollower(this.term, null)
        // A removed member that is gone (silent for an election timeout) is not told of its removal.
        for (const [id, removedAt] of this.leaving) {
          const p = this.progress.get(id)
          if (removedAt <= this.commit && (p === undefined || this.now - p.lastActiveAt >= this.config.electionTimeoutMs)) {
            this.leaving.delete(id)
            this.progress.delete(id)
          }
        }
        this.broadcastHeartbeat()
      }
    } else if (this.now >= this.electionDeadline) {
      // Learners, non-members and nodes under the amnesia guard never campaign.
      if (this.mayCampaign()) this.campaign(this.config.preVote ? "pre" : "real")
      else this.resetElectionTimer()
    }
  }

  private mayCampaign(): boolean {
    return this.isVoter && this.rejoin === undefined
  }

  private random(): number {
    // xorshift32: deterministic, seeded by the shell from Effect's Random.
    let x = this.rng
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    this.rng = x
    return (x >>> 0) / 0x100000000
  }

  /** A new randomized election timeout (in [T, 2T)), running from now. */
  private resetElectionTimer() {
    const t = this.config.electionTimeoutMs
    this.electionTimeout = t + Math.floor(this.random() * t)
    this.electionDeadline = this.now + this.electionTimeout
  }

  /**
   * The same timeout, restarted from now: what hearing from the leader does (as etcd does). Drawing
   * anew per message would move the deadline earlier about half the time, waking the shell's timer
   * loop on every append; restarted, the deadline only moves later.
   */
  private restartElectionTimer() {
    this.electionDeadline = this.now + this.electionTimeout
  }

  /**
   * CheckQuorum: has a majority (this node included) answered within the last election timeout?
   * Checked at every heartbeat, so a leader cut off from its majority steps down within one election
   * timeout plus one heartbeat (etcd checks once per timeout window, which can take two).
   */
  private hasActiveQuorum(): boolean {
    let active = this.isVoter ? 1 : 0
    for (const [id, p] of this.progress) {
      if (Members.isVoter(this.members, id) && this.now - p.lastActiveAt < this.config.electionTimeoutMs) active++
    }
    return active >= this.quorum
  }

  // -- role changes ----------------------------------------------------------------------------

  private becomeFollower(term: number, leader: NodeId | null) {
    if (term > this.term) {
      this.term = term
      this.vote = null
    }
    if (this.role === "Leader") this.failPendingReads(leader)
    this.role = "Follower"
    this.leader = leader
    this.progress.clear()
    this.leaving.clear()
    this.transferee = null
    this.transferDeadline = Infinity
    this.resetElectionTimer()
  }

  private campaign(kind: "pre" | "real" | "transfer") {
    this.votes.clear()
    this.votes.set(this.config.id, true)
    this.leader = null
    let term: number
    if (kind === "pre") {
      this.role = "PreCandidate"
      term = this.term + 1
    } else {
      this.role = "Candidate"
      this.term++
      this.vote = this.config.id
      term = this.term
    }
    this.resetElectionTimer()
    if (this.votes.size >= this.quorum) return this.wonElection()
    for (const p of this.otherVoters()) {
      this.send(p, {
        _tag: "RequestVote",
        term,
        candidate: this.config.id,
        lastIndex: this.log.lastIndex,
        lastTerm: this.log.lastTerm,
        preVote: kind === "pre",
        transfer: kind === "transfer"
      })
    }
  }

  private wonElection() {
    if (this.role === "PreCandidate") this.campaign("real")
    else this.becomeLeader()
  }

  private becomeLeader() {
    this.role = "Leader"
    this.leader = this.config.id
    this.transferee = null
    this.transferDeadline = Infinity
    this.progress.clear()
    this.leaving.clear()
    this.syncProgress()
    this.readRound = 0
    if (this.config.leaderNoop) {
      this.log.append({ index: this.log.lastIndex + 1, term: this.term, kind: EntryKind.Noop, data: new Uint8Array(0) })
    }
    // Assert leadership at once (followers reset their timers) and start probing their logs.
    this.broadcastHeartbeat()
    this.appendNeeded = true
    if (this.otherVoters().length === 0) this.maybeCommit()
  }

  // -- sending ---------------------------------------------------------------------------------

  private send(to: NodeId, request: RaftRequest) {
    this.messages.push({ to, request })
  }

  private broadcastHeartbeat() {
    this.heartbeatDeadline = this.now + this.config.heartbeatIntervalMs
    for (const [id, p] of this.progress) {
      this.send(id, {
        _tag: "Heartbeat",
        term: this.term,
        leader: this.config.id,
        commit: Math.min(this.commit, p.match),
        readRound: this.readRound
      })
    }
  }

  /** Sends `to` what it is missing, if its progress allows another message now. */
  private sendAppend(to: NodeId) {
    const p = this.progress.get(to)!
    if (p.paused) return
    const prevIndex = p.next - 1
    const prevTerm = this.log.term(prevIndex)
    if (prevTerm === undefined) {
      // The follower needs entries that were compacted into the snapshot.
      const snapshot = this.log.snapshot!
      p.becomeSnapshot(snapshot.index)
      this.send(to, { _tag: "InstallSnapshot", term: this.term, leader: this.config.id, snapshot })
      return
    }
    const entries = this.log.slice(p.next, this.log.lastIndex + 1, this.config.maxAppendBytes)
    if (entries.length === 0 && p.state === "Replicate") return
    this.send(to, {
      _tag: "AppendEntries",
      term: this.term,
      leader: this.config.id,
      prevIndex,
      prevTerm,
      entries,
      commit: this.commit
    })
    if (p.state === "Replicate") {
      const last = entries[entries.length - 1]!.index
      p.next = last + 1
      p.inflights.push(last)
    } else {
      p.probeSent = true
    }
  }

  private reply(token: number, response: RaftResponse) {
    this.replies.push({ token, response })
  }

  // -- inbound requests ------------------------------------------------------------------------

  private onRequest(from: NodeId, request: RaftRequest, token: number) {
    switch (request._tag) {
      case "RequestVote":
        return this.reply(token, this.onRequestVote(request))
      case "AppendEntries":
        return this.reply(token, this.onAppendEntries(request))
      case "Heartbeat":
        return this.reply(token, this.onHeartbeat(request))
      case "InstallSnapshot":
        return this.reply(token, this.onInstallSnapshot(request))
      case "TimeoutNow":
        this.onTimeoutNow(from, request)
        return this.reply(token, undefined)
    }
  }

  private inLease(): boolean {
    return this.config.checkQuorum && this.leader !== null &&
      this.now - this.lastLeaderContact < this.config.electionTimeoutMs
  }

  private onRequestVote(req: RequestVote): RequestVoteReply {
    // A node that hears from a live leader ignores campaigns: a partitioned node rejoining with a
    // higher term must not depose it. (A leadership-transfer target is let through.)
    if (req.term > this.term && !req.transfer && this.config.checkQuorum && (this.inLease() || this.role === "Leader")) {
      return { term: this.term, granted: false }
    }
    if (req.term < this.term) return { term: this.term, granted: false }
    if (!req.preVote && req.term > this.term) this.becomeFollower(req.term, null)
    const canVote = req.preVote
      ? req.term > this.term || this.vote === req.candidate || (this.vote === null && this.leader === null)
      : this.vote === null || this.vote === req.candidate
    // Under the amnesia guard this node may have voted in this term before it lost its state.
    const granted = canVote && this.rejoin === undefined && this.log.isUpToDate(req.lastIndex, req.lastTerm)
    if (granted && !req.preVote) {
      this.vote = req.candidate
      this.resetElectionTimer()
    }
    return { term: granted && req.preVote ? req.term : this.term, granted }
  }

  /** Common to every message from a leader: adopt its term and leadership, reset the election timer. */
  private heardFromLeader(term: number, leader: NodeId) {
    if (term > this.term || this.role !== "Follower") this.becomeFollower(term, leader)
    this.leader = leader
    this.lastLeaderContact = this.now
    this.restartElectionTimer()
  }

  private onAppendEntries(req: AppendEntries): AppendEntriesReply {
    const reject = (conflictIndex: number, conflictTerm: number) =>
      ({ term: this.term, success: false, match: 0, conflictIndex, conflictTerm })
    if (req.term < this.term) return reject(0, 0)
    this.heardFromLeader(req.term, req.leader)
    if (this.rejoin === 0) this.rejoin = req.commit + 1
    let prevIndex = req.prevIndex
    let entries: ReadonlyArray<LogEntry> = req.entries
    const snapIndex = this.log.snapshotIndex
    if (prevIndex < snapIndex) {
      // Everything through our snapshot is committed, hence identical to the leader's log: skip it.
      const skip = Math.min(entries.length, snapIndex - prevIndex)
      entries = entries.slice(skip)
      prevIndex += skip
      if (prevIndex < snapIndex) {
        return { term: this.term, success: true, match: prevIndex, conflictIndex: 0, conflictTerm: 0 }
      }
    } else if (prevIndex > this.log.lastIndex) {
      return reject(this.log.lastIndex + 1, 0)
    } else {
      const t = this.log.term(prevIndex)!
      if (t !== req.prevTerm) return reject(this.log.firstIndexOfTermEndingAt(prevIndex, t), t)
    }
    const firstWritten = this.log.merge(entries)
    if (firstWritten !== undefined) {
      // Entries from here on are new (or replace a conflicting suffix) and must be persisted.
      assert(firstWritten > this.commit, () => `overwriting committed entry ${firstWritten} (commit ${this.commit})`)
      this.unstableFrom = Math.min(this.unstableFrom, firstWritten)
      this.stableIndex = Math.min(this.stableIndex, firstWritten - 1)
      this.persistingTo = Math.min(this.persistingTo, firstWritten - 1)
      this.noticeNewEntries(firstWritten)
    }
    const match = prevIndex + entries.length
    const newCommit = Math.min(req.commit, match)
    if (newCommit > this.commit) this.advanceCommit(newCommit)
    return { term: this.term, success: true, match, conflictIndex: 0, conflictTerm: 0 }
  }

  private onHeartbeat(req: Heartbeat): HeartbeatReply {
    if (req.term < this.term) return { term: this.term, readRound: 0 }
    this.heardFromLeader(req.term, req.leader)
    const newCommit = Math.min(req.commit, this.log.lastIndex)
    if (newCommit > this.commit) this.advanceCommit(newCommit)
    return { term: this.term, readRound: req.readRound }
  }

  private onInstallSnapshot(req: InstallSnapshot): InstallSnapshotReply {
    if (req.term < this.term) return { term: this.term, match: 0 }
    this.heardFromLeader(req.term, req.leader)
    const s = req.snapshot
    if (this.rejoin === 0) this.rejoin = s.index + 1
    if (s.index <= this.commit) return { term: this.term, match: this.commit }
    if (this.log.term(s.index) === s.term) {
      // We hold that entry already: the log through it is committed, no need to replace anything.
      this.advanceCommit(s.index)
      return { term: this.term, match: s.index }
    }
    this.log.restore(s)
    this.refreshMembership()
    this.commit = s.index
    this.checkRejoin()
    this.applySnapshot = s
    this.pendingSnapshot = { snapshot: s, discardLog: true }
    this.unstableFrom = s.index + 1
    this.stableIndex = s.index
    this.persistingTo = Math.min(this.persistingTo, s.index)
    return { term: this.term, match: s.index }
  }

  private onTimeoutNow(from: NodeId, req: TimeoutNow) {
    if (req.term === this.term && this.role === "Follower" && this.leader === from && this.mayCampaign()) this.campaign("transfer")
  }

  /** A follower learned a higher commit index. */
  private advanceCommit(index: number) {
    this.commit = index
    this.checkRejoin()
  }

  // -- responses to our requests ---------------------------------------------------------------

  private onResponse(from: NodeId, request: RaftRequest, response: RaftResponse) {
    if (response !== undefined && response.term > this.term) {
      // A pre-vote granted with a future term is not a sign of a newer term; anything else is.
      if (!(request._tag === "RequestVote" && request.preVote && (response as RequestVoteReply).granted)) {
        this.becomeFollower(response.term, null)
        return
      }
    }
    switch (request._tag) {
      case "RequestVote":
        return this.onVoteResponse(from, request, response as RequestVoteReply)
      case "AppendEntries":
        return this.onAppendResponse(from, request, response as AppendEntriesReply)
      case "Heartbeat":
        return this.onHeartbeatResponse(from, request, response as HeartbeatReply)
      case "InstallSnapshot":
        return this.onSnapshotResponse(from, request, response as InstallSnapshotReply)
      case "TimeoutNow":
        return
    }
  }

  private onVoteResponse(from: NodeId, req: RequestVote, resp: RequestVoteReply) {
    const current = req.preVote
      ? this.role === "PreCandidate" && req.term === this.term + 1
      : this.role === "Candidate" && req.term === this.term
    // Only the voters of this node's configuration count.
    if (!current || this.votes.has(from) || !Members.isVoter(this.members, from)) return
    this.votes.set(from, resp.granted)
    let granted = 0
    for (const v of this.votes.values()) if (v) granted++
    if (granted >= this.quorum) return this.wonElection()
    if (this.votes.size - granted >= this.quorum) this.becomeFollower(this.term, null)
  }

  private leaderProgress(from: NodeId, req: { readonly term: number }): Progress | undefined {
    if (this.role !== "Leader" || req.term !== this.term) return undefined
    const p = this.progress.get(from)
    if (p !== undefined) p.lastActiveAt = this.now
    return p
  }

  private onAppendResponse(from: NodeId, req: AppendEntries, resp: AppendEntriesReply) {
    const p = this.leaderProgress(from, req)
    if (p === undefined) return
    if (resp.success) {
      const last = req.prevIndex + req.entries.length
      assert(resp.match <= last, () => `follower ${from} claims match ${resp.match} beyond the append's last ${last}`)
      const updated = p.update(resp.match)
      if (p.state === "Probe") p.becomeReplicate()
      else if (p.state === "Snapshot" && p.match >= p.pendingSnapshot) p.becomeProbe()
      if (updated) this.maybeCommit()
      if (this.role !== "Leader") return
      if (this.transferee === from && p.match === this.log.lastIndex) this.sendTimeoutNow(from)
      this.maybeForget(from, p, req.commit)
      if (this.progress.has(from)) this.sendAppend(from)
      return
    }
    const rejected = req.prevIndex
    if (p.state === "Replicate") {
      // Stale only if everything it carried is matched already. A network that reorders can deliver
      // an append after the one it follows was rejected (its prev not there yet): its entries were
      // dropped, and nothing else will resend them, so probe again from the match point.
      if (req.prevIndex + req.entries.length <= p.match) return
      p.becomeProbe()
    } else if (p.state === "Probe") {
      if (rejected !== p.next - 1) return // an answer to an earlier probe
    } else {
      return
    }
    let next = resp.conflictIndex
    if (resp.conflictTerm > 0) {
      const last = this.log.lastIndexOfTerm(resp.conflictTerm)
      if (last !== undefined) next = last + 1
    }
    p.next = Math.max(p.match + 1, Math.min(next, rejected))
    p.probeSent = false
    this.sendAppend(from)
  }

  private onHeartbeatResponse(from: NodeId, req: Heartbeat, resp: HeartbeatReply) {
    const p = this.leaderProgress(from, req)
    if (p === undefined) return
    p.probeSent = false
    if (resp.readRound > p.readAck) {
      p.readAck = resp.readRound
      this.releaseReads()
    }
    this.maybeForget(from, p, req.commit)
    if (this.progress.has(from) && p.match < this.log.lastIndex) this.sendAppend(from)
  }

  private onSnapshotResponse(from: NodeId, req: InstallSnapshot, resp: InstallSnapshotReply) {
    const p = this.leaderProgress(from, req)
    if (p === undefined) return
    if (resp.match > p.match) p.match = resp.match
    if (p.state === "Snapshot") p.becomeProbe()
    this.maybeCommit()
    if (this.role === "Leader") this.sendAppend(from)
  }

  private onFailure(to: NodeId, request: RaftRequest) {
    // Not leaderProgress(): a failed request is no sign of life.
    if (this.role !== "Leader" || request.term !== this.term) return
    const p = this.progress.get(to)
    if (p === undefined) return
    if (request._tag === "AppendEntries") {
      // Whatever was streamed after the lost message is useless; find the match point again.
      if (p.state === "Replicate") p.becomeProbe()
      else if (p.state === "Probe") p.probeSent = false
    } else if (request._tag === "InstallSnapshot" && p.state === "Snapshot") {
      // Forget the snapshot first, or the probe would start after a snapshot that never arrived.
      p.pendingSnapshot = 0
      p.becomeProbe()
    }
  }

  // -- commit, reads, transfer, compaction -----------------------------------------------------

  private maybeCommit() {
    // A leader being removed manages the cluster without counting itself (thesis §4.2.2).
    const matches = this.isVoter ? [this.stableIndex] : []
    for (const [id, p] of this.progress) if (Members.isVoter(this.members, id)) matches.push(p.match)
    matches.sort((a, b) => b - a)
    const q = matches[this.quorum - 1] ?? 0
    // Only entries of the current term are committed by counting replicas (§5.4.2).
    if (q > this.commit && this.log.term(q) === this.term) {
      this.commit = q
      this.checkRejoin()
      if (this.readsAwaitingCommit.length > 0) {
        const waiting = this.readsAwaitingCommit
        this.readsAwaitingCommit = []
        for (const token of waiting) this.readIndex(token)
      }
      if (!this.isVoter && this.membersIndex <= this.commit) this.stepDownRemoved()
    }
  }

  /**
   * This leader's removal committed: tell every member the commit index (so the removal takes hold at
   * once), hand leadership to the most up-to-date voter, and step down.
   */
  private stepDownRemoved() {
    this.broadcastHeartbeat()
    let best: NodeId | undefined
    let bestMatch = -1
    for (const [id, p] of this.progress) {
      if (Members.isVoter(this.members, id) && p.match > bestMatch) {
        best = id
        bestMatch = p.match
      }
    }
    if (best !== undefined && bestMatch === this.log.lastIndex) this.sendTimeoutNow(best)
    this.becomeFollower(this.term, null)
  }

  private readIndex(token: number) {
    if (this.role !== "Leader") {
      this.readFailures.push({ token, leader: this.leader })
      return
    }
    if (this.log.term(this.commit) !== this.term) {
      // Until an entry of this term commits, this leader's commit index may lag the true one.
      this.readsAwaitingCommit.push(token)
      return
    }
    if (this.otherVoters().length === 0 && this.isVoter) {
      this.reads.push({ token, index: this.commit })
      return
    }
    if (!this.readRoundOpen) {
      this.readRound++
      this.readRoundOpen = true
    }
    this.pendingReads.push({ token, index: this.commit, round: this.readRound })
  }

  private releaseReads() {
    const acks = this.isVoter ? [this.readRound] : []
    for (const [id, p] of this.progress) if (Members.isVoter(this.members, id)) acks.push(p.readAck)
    acks.sort((a, b) => b - a)
    const confirmed = acks[this.quorum - 1] ?? 0
    let n = 0
    while (n < this.pendingReads.length && this.pendingReads[n]!.round <= confirmed) n++
    for (const r of this.pendingReads.splice(0, n)) this.reads.push({ token: r.token, index: r.index })
  }

  private failPendingReads(leader: NodeId | null) {
    for (const r of this.pendingReads) this.readFailures.push({ token: r.token, leader })
    for (const token of this.readsAwaitingCommit) this.readFailures.push({ token, leader })
    this.pendingReads = []
    this.readsAwaitingCommit = []
    this.readRoundOpen = false
  }

  private transferLeadership(to: NodeId) {
    if (this.role !== "Leader" || to === this.config.id || !this.progress.has(to) || !Members.isVoter(this.members, to)) return
    this.transferee = to
    this.transferDeadline = this.now + this.config.electionTimeoutMs
    const p = this.progress.get(to)!
    if (p.match === this.log.lastIndex) this.sendTimeoutNow(to)
    else this.sendAppend(to)
  }

  private sendTimeoutNow(to: NodeId) {
    this.send(to, { _tag: "TimeoutNow", term: this.term, leader: this.config.id })
  }

  private abortTransfer() {
    this.transferee = null
    this.transferDeadline = Infinity
  }

  private compact(index: number, data: Uint8Array) {
    if (index <= this.log.snapshotIndex) return
    assert(index <= this.applied, () => `snapshot at ${index} beyond the applied index ${this.applied}`)
    const term = this.log.term(index)!
    const at = this.membershipAt(index)
    const snapshot: Snapshot = at.known ? { index, term, data, membership: at.membership } : { index, term, data }
    this.log.compact(snapshot)
    this.pendingSnapshot = { snapshot, discardLog: this.pendingSnapshot?.discardLog === true }
  }

  private hardState(): HardState {
    const hs = { term: this.term, vote: this.vote, commit: this.commit }
    return this.rejoin === undefined ? hs : { ...hs, rejoin: this.rejoin }
  }

  private hardStateChanged(): boolean {
    return this.termOrVoteChanged() || this.savedHardState.commit !== this.commit || this.savedHardState.rejoin !== this.rejoin
  }

  private termOrVoteChanged(): boolean {
    return this.savedHardState.term !== this.term || this.savedHardState.vote !== this.vote
  }
}
