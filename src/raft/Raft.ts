/**
 * `Raft`: one Raft node as an Effect service.
 *
 * The protocol lives in a pure core (`core/RaftCore.ts`); this shell feeds it and carries out what it
 * asks, in order, one batch ("Ready") at a time: persist to `LogStorage` (durable when the call
 * returns), then send messages and answer inbound RPCs, then hand committed entries to the
 * application. Nothing that depends on state is sent before that state is on disk; the one exception
 * the protocol allows is a leader's appends, which leave while the leader writes the same entries
 * (thesis §10.2.1: it counts itself toward commit only once they are durable).
 *
 * Fibers: one owns the Ready loop, one runs the timers (sleeping until the core's next deadline), and
 * each outbound RPC runs in its own fiber, so a slow or dead peer never delays the others. Proposals
 * and reads step the core synchronously in the caller's fiber and only mark work for the loop, so
 * proposals made together leave in one AppendEntries per follower and one storage write.
 *
 * A node is a Scope: closing it is a crash (every fiber interrupted, the apply stream ends); building
 * it again over the same `LogStorage` restarts it.
 *
 * Membership (`members`, `addLearner`, `promote`, `remove`): one server at a time, new nodes as
 * learners first (see `core/Membership.ts` for why). A change completes when its configuration entry
 * commits; the Transport learns new members' addresses from each configuration (`setPeerAddress`).
 * @since 0.1.0
 */
import { Clock, Context, Data, Deferred, Effect, FiberSet, Layer, Option, PubSub, Queue, Random, type Scope, Stream } from "effect"
import { withoutStack } from "../internal/errors.js"
import { withoutFiberMetrics } from "../internal/metrics.js"
import * as Transport from "../rpc/Transport.js"
import * as Config from "./core/Membership.js"
import { type Event, RaftCore, type Role, type Status } from "./core/RaftCore.js"
import { EntryKind, type Membership, type NodeId, type Snapshot } from "./core/types.js"
import { LogStorage, type Sizes, type StorageError } from "./LogStorage.js"
import type { RaftRequest, RaftResponse } from "./core/messages.js"
import type * as Wire from "./Messages.js"
import { AppendEntries, Heartbeat, InstallSnapshot, NotLeader, RequestVote, TimeoutNow } from "./Messages.js"
import type { RaftConfig } from "./RaftConfig.js"

export type { MembershipStatus, Status } from "./core/RaftCore.js"
export type { Membership } from "./core/types.js"
export type { RaftConfig } from "./RaftConfig.js"

export { NotLeader } from "./Messages.js"

/** The protocol a Raft node serves. */
export const RaftProtocol = Transport.protocol("Raft", RequestVote, AppendEntries, Heartbeat, InstallSnapshot, TimeoutNow)

/** A proposal larger than one AppendEntries may carry (`RaftConfig.maxAppendBytes`); refused. */
export class EntryTooLarge extends Data.TaggedError("EntryTooLarge")<{ readonly bytes: number; readonly limit: number }> {
  override get message() {
    return `a command of ${this.bytes} bytes exceeds the ${this.limit}-byte entry limit (maxAppendBytes)`
  }
}

/** The node was shut down while the operation waited. */
export class NodeStopped extends Data.TaggedError("NodeStopped")<{ readonly id: NodeId }> {
  override get message() {
    return `raft node ${this.id} stopped`
  }
}

/** Another configuration change has not committed yet (or this leader has not committed an entry of its term). */
export class ChangeInProgress extends Data.TaggedError("ChangeInProgress")<{ readonly detail: string }> {
  override get message() {
    return `a membership change is in progress: ${this.detail}; retry shortly`
  }
}

/** The node named is not a member (or, for `promote`, not a learner). */
export class UnknownNode extends Data.TaggedError("UnknownNode")<{ readonly id: NodeId }> {
  override get message() {
    return `${this.id} is not a member of the cluster`
  }
}

/** `addLearner` of a node that is already a member, or `promote` of a voter. */
export class AlreadyMember extends Data.TaggedError("AlreadyMember")<{ readonly id: NodeId; readonly role: "voter" | "learner" }> {
  override get message() {
    return `${this.id} is already a ${this.role}`
  }
}

/** `promote` of a learner whose log is behind the commit index (or that has not answered lately). */
export class NotCaughtUp extends Data.TaggedError("NotCaughtUp")<{ readonly id: NodeId; readonly match: number; readonly commit: number }> {
  override get message() {
    return `learner ${this.id} is not caught up (has ${this.match} of ${this.commit} committed entries); retry once it is`
  }
}

/** `remove` of the only voter: the cluster would have no one to decide anything. */
export class LastVoter extends Data.TaggedError("LastVoter")<{ readonly id: NodeId }> {
  override get message() {
    return `${this.id} is the last voter; add and promote another node before removing it`
  }
}

/** The configuration entry was replaced by another leader's entry before it committed: it did not take effect. */
export class ChangeDropped extends Data.TaggedError("ChangeDropped")<{ readonly index: number }> {
  override get message() {
    return `the membership change at index ${this.index} was lost in a leader change; it did not take effect (retry)`
  }
}

/** Why a membership change was refused. */
export type MembershipError = ChangeInProgress | UnknownNode | AlreadyMember | NotCaughtUp | LastVoter | ChangeDropped

/** One member as `members` reports it. */
export interface MemberInfo {
  readonly id: NodeId
  readonly role: "voter" | "learner"
  /** Its Transport address, when known (a real deployment). */
  readonly address: string | undefined
  /** Leader only: how far its log matches the leader's (this node: its last index). */
  readonly match: number | undefined
}

/** The configuration this node uses, with each member (`RaftShape.members`). */
export interface Members {
  readonly members: ReadonlyArray<MemberInfo>
  /** The index of the configuration entry (0: the bootstrap configuration). */
  readonly index: number
  readonly committed: boolean
  /** This node joined without state and refuses to vote until re-admitted (the amnesia guard). */
  readonly rejoining: boolean
  readonly leader: NodeId | null
}

/** What the application receives, in log order. */
export type ApplyMsg =
  | { readonly _tag: "Command"; readonly index: number; readonly term: number; readonly data: Uint8Array }
  /** The empty entry a new leader appends (see `RaftConfig.leaderNoop`). */
  | { readonly _tag: "Noop"; readonly index: number; readonly term: number }
  /** A configuration entry (already in effect since it was appended; now committed). */
  | { readonly _tag: "Membership"; readonly index: number; readonly term: number; readonly membership: Membership }
  /** Replace the state machine with this snapshot (sent by the leader); later entries follow it. */
  | { readonly _tag: "Snapshot"; readonly index: number; readonly term: number; readonly data: Uint8Array }

/**
 * What happened to a node, for logs, status pages and metrics (`RaftShape.events`). Reachability is
 * as this node sees it: a leader calls every follower each heartbeat, a follower only calls its
 * peers when it campaigns.
 */
export type RaftEvent =
  | { readonly _tag: "RoleChanged"; readonly role: Role; readonly term: number }
  | { readonly _tag: "LeaderChanged"; readonly leader: NodeId | null; readonly term: number }
  | { readonly _tag: "PeerUnreachable"; readonly peer: NodeId; readonly detail: string }
  | { readonly _tag: "PeerReachable"; readonly peer: NodeId }
  /** This node compacted its log into the application's snapshot. */
  | { readonly _tag: "SnapshotTaken"; readonly index: number; readonly bytes: number }
  /** This node installed a snapshot sent by its leader. */
  | { readonly _tag: "SnapshotInstalled"; readonly index: number; readonly bytes: number }
  /** The configuration this node uses changed (it may not be committed yet). */
  | { readonly _tag: "MembershipChanged"; readonly membership: Membership; readonly index: number }
  /** A committed configuration no longer includes this node, which was a member: it is out of the cluster. */
  | { readonly _tag: "Removed"; readonly index: number }

/** Counts since the node started (`RaftShape.counters`), for a metrics endpoint. */
export interface RaftCounters {
  /** Proposals accepted (this node led). */
  readonly proposals: number
  /** Campaigns started (pre-vote rounds included). */
  readonly elections: number
  /** Times the known leader changed. */
  readonly leaderChanges: number
  /** Entries handed to the application (committed and applied). */
  readonly applied: number
  readonly appendEntriesSent: number
  readonly appendEntriesReceived: number
  /** AppendEntries this node sent that a follower rejected (log mismatch or stale term). */
  readonly appendEntriesRejected: number
  readonly heartbeatsSent: number
  /** Raft RPCs this node sent that failed in transport (lost, timed out, unreachable). */
  readonly rpcFailures: number
  readonly snapshotsTaken: number
  readonly snapshotsInstalled: number
}

/** The Raft service of one node. */
export interface RaftShape {
  readonly id: NodeId
  /** Appends a command if this node leads; its index and term. Committed entries arrive on `applied`. */
  readonly propose: (data: Uint8Array) => Effect.Effect<{ readonly index: number; readonly term: number }, NotLeader | EntryTooLarge>
  /**
   * A linearizable read point: once a majority confirms this node still leads, the commit index at the
   * time of the call. Serve the read after applying through it. No log write.
   */
  readonly readIndex: Effect.Effect<number, NotLeader | NodeStopped>
  /** Term, role, leader, commit and log indices. */
  readonly status: Effect.Effect<Status>
  /** Committed entries and snapshots, in order. One consumer; ends when the node stops. */
  readonly applied: Stream.Stream<ApplyMsg>
  /** The application has snapshotted its state through `index` (≤ what it applied): compact the log. */
  readonly snapshot: (index: number, data: Uint8Array) => Effect.Effect<void>
  /** Hands leadership to `to` (which must be a peer); it campaigns once its log is up to date. */
  readonly transferLeadership: (to: NodeId) => Effect.Effect<void, NotLeader>
  /** The storage's sizes: log, snapshot, and what it takes on disk. */
  readonly sizes: Effect.Effect<Sizes>
  /**
   * The latest durable snapshot (a restarting application resumes from it; once it covers an index,
   * the log before it is gone).
   */
  readonly storedSnapshot: Effect.Effect<Snapshot | undefined, StorageError>
  /**
   * Role, leader, reachability and snapshot events from the moment of subscription; ends when the
   * node stops. A subscriber that falls more than 1,024 events behind loses the oldest.
   */
  readonly events: Stream.Stream<RaftEvent>
  /** Counters since the node started. */
  readonly counters: Effect.Effect<RaftCounters>
  /** The configuration this node uses (latest in its log), with each member's role and address. */
  readonly members: Effect.Effect<Members>
  /**
   * Adds `id` (reachable at `address`; "" in simulation) as a learner: it receives the log and
   * snapshots but does not vote. Completes when the change commits; returns its index.
   */
  readonly addLearner: (id: NodeId, address: string) => Effect.Effect<number, MembershipError | NotLeader>
  /** Makes learner `id` a voter, once it holds every committed entry. Completes when the change commits. */
  readonly promote: (id: NodeId) => Effect.Effect<number, MembershipError | NotLeader>
  /**
   * Removes member `id` (a voter or a learner). Removing the leader itself is allowed: it leads until
   * the removal commits, then hands leadership to the most up-to-date voter and steps down.
   */
  readonly remove: (id: NodeId) => Effect.Effect<number, MembershipError | NotLeader>
}

/**
 * Transports that can learn a peer's address at run time (TCP does; the simulated network routes by
 * id). Raft feeds every configuration's addresses to it.
 */
interface AddressBook {
  readonly setPeerAddress?: (peer: NodeId, address: string) => void
}

/** The Raft service tag. */
export class Raft extends Context.Tag("concord/Raft")<Raft, RaftShape>() {}

/**
 * An optional observer of every node's core, called after each step and each Ready: test harnesses
 * use it to check safety invariants continuously (election safety, leader completeness). Not provided
 * in production; when absent, it costs nothing.
 */
export class RaftObserver extends Context.Tag("concord/RaftObserver")<RaftObserver, {
  readonly observe: (core: RaftCore) => void
}>() {}

/** The wire class of a message of the core (which makes plain objects). */
const toWire = (request: RaftRequest) => {
  switch (request._tag) {
    case "RequestVote":
      return new RequestVote(request, true)
    case "AppendEntries":
      return new AppendEntries(request, true)
    case "Heartbeat":
      return new Heartbeat(request, true)
    case "InstallSnapshot":
      return new InstallSnapshot(request, true)
    case "TimeoutNow":
      return new TimeoutNow(request, true)
  }
}

const requestSender = (request: RaftRequest): NodeId => {
  switch (request._tag) {
    case "RequestVote":
      return request.candidate
    default:
      return request.leader
  }
}

/**
 * Starts a Raft node in the current scope: loads its state from `LogStorage`, serves the Raft
 * protocol on the `Transport`, and runs until the scope closes.
 */
export const make = (config: RaftConfig): Effect.Effect<RaftShape, StorageError, Transport.Transport | LogStorage | Scope.Scope> =>
  withoutFiberMetrics(Effect.gen(function*() {
    const transport = yield* Transport.Transport
    const storage = yield* LogStorage
    const clock = yield* Effect.clock
    const persisted = yield* storage.load
    const seed = yield* Random.nextInt
    const observer = Option.getOrUndefined(yield* Effect.serviceOption(RaftObserver))
    const now = () => clock.unsafeCurrentTimeMillis()
    const core = new RaftCore(config, persisted, now(), seed)
    const applyQueue = yield* Queue.unbounded<ApplyMsg>()
    const work = yield* Effect.makeLatch(false)
    const rearm = yield* Effect.makeLatch(false)
    const replyWaiters = new Map<number, Deferred.Deferred<RaftResponse>>()
    const readWaiters = new Map<number, Deferred.Deferred<number, NotLeader | NodeStopped>>()
    const rpcs = yield* FiberSet.make<void, never>()
    const callOptions = config.rpcTimeoutMs === undefined ? undefined : { timeout: config.rpcTimeoutMs }
    let nextToken = 1
    let stopped = false
    let armedDeadline = Infinity

    // The observability seam: events on change, counters by the shell (nothing in the core).
    const events = yield* PubSub.sliding<RaftEvent>(1024)
    const counters = {
      proposals: 0,
      elections: 0,
      leaderChanges: 0,
      applied: 0,
      appendEntriesSent: 0,
      appendEntriesReceived: 0,
      appendEntriesRejected: 0,
      heartbeatsSent: 0,
      rpcFailures: 0,
      snapshotsTaken: 0,
      snapshotsInstalled: 0
    }
    let seenRole: Role = core.currentRole
    let seenLeader: NodeId | null = core.currentLeader
    // Peer reachability, judged by the latest call sent that has an outcome: an outcome of a call
    // older than one already judged says nothing about the link now (a reply, or a failure, that was
    // in flight when the link changed).
    let callNumber = 0
    const judged = new Map<NodeId, { readonly number: number; readonly up: boolean }>()
    const judge = (peer: NodeId, number: number, up: boolean, detail: string) => {
      const last = judged.get(peer)
      if (last !== undefined && last.number > number) return
      judged.set(peer, { number, up })
      if (up && last !== undefined && !last.up) publish({ _tag: "PeerReachable", peer })
      else if (!up && (last === undefined || last.up)) publish({ _tag: "PeerUnreachable", peer, detail })
    }
    const publish = (event: RaftEvent) => {
      events.unsafeOffer(event)
    }
    const noticeChanges = () => {
      if (core.currentRole !== seenRole) {
        seenRole = core.currentRole
        if (seenRole === "PreCandidate" || seenRole === "Candidate") counters.elections++
        publish({ _tag: "RoleChanged", role: seenRole, term: core.currentTerm })
      }
      if (core.currentLeader !== seenLeader) {
        seenLeader = core.currentLeader
        counters.leaderChanges++
        publish({ _tag: "LeaderChanged", leader: seenLeader, term: core.currentTerm })
      }
    }

    // Membership: tell the Transport new addresses, publish changes, complete the changes that committed.
    const book = transport as AddressBook
    let seenMembers = core.membership()
    let wasMember = Config.isMember(seenMembers.membership, config.id)
    let removedSaid = false
    const learnAddresses = (m: Membership) => {
      if (book.setPeerAddress === undefined) return
      for (const [id, address] of Object.entries(m.addresses)) if (id !== config.id) book.setPeerAddress(id, address)
    }
    learnAddresses(seenMembers.membership)
    const changeWaiters: Array<{ index: number; term: number; deferred: Deferred.Deferred<number, ChangeDropped> }> = []
    const noticeMembership = () => {
      const m = core.membership()
      if (m.index !== seenMembers.index || m.membership !== seenMembers.membership) {
        learnAddresses(m.membership)
        publish({ _tag: "MembershipChanged", membership: m.membership, index: m.index })
      }
      seenMembers = m
      const member = Config.isMember(m.membership, config.id)
      if (member) wasMember = true
      else if (wasMember && m.committed && !removedSaid) {
        removedSaid = true
        publish({ _tag: "Removed", index: m.index })
      }
      if (changeWaiters.length === 0) return
      const s = core.status()
      for (let k = changeWaiters.length - 1; k >= 0; k--) {
        const w = changeWaiters[k]!
        const term = core.log.term(w.index)
        const dropped = (term !== undefined && term !== w.term) || w.index > s.lastIndex
        if (dropped) Deferred.unsafeDone(w.deferred, Effect.fail(new ChangeDropped({ index: w.index })))
        else if (s.commit >= w.index) Deferred.unsafeDone(w.deferred, Effect.succeed(w.index))
        else continue
        changeWaiters.splice(k, 1)
      }
    }

    // After any step: wake the Ready loop, and the timer if the next deadline moved earlier.
    const stepped = () => {
      observer?.observe(core)
      noticeChanges()
      noticeMembership()
      if (core.hasReady()) work.unsafeOpen()
      if (core.nextDeadline() < armedDeadline) rearm.unsafeOpen()
    }
    const step = (event: Event) => {
      if (stopped) return
      core.step(event)
      stepped()
    }

    const send = (to: NodeId, request: RaftRequest) => {
      if (request._tag === "AppendEntries") counters.appendEntriesSent++
      else if (request._tag === "Heartbeat") counters.heartbeatsSent++
      const number = ++callNumber
      return transport.call(to, toWire(request), callOptions).pipe(
        Effect.matchEffect({
          onSuccess: (response) =>
            Effect.sync(() => {
              judge(to, number, true, "")
              if (request._tag === "AppendEntries" && !(response as { success: boolean }).success) counters.appendEntriesRejected++
              step({ _tag: "Response", now: now(), from: to, request, response })
            }),
          onFailure: (e) =>
            Effect.sync(() => {
              counters.rpcFailures++
              // A simulated drop is noise, not a sign the peer is gone.
              if (e._tag === "TransportError" && e.reason !== "Dropped") judge(to, number, false, e.message)
              step({ _tag: "Failure", now: now(), to, request })
            })
        })
      )
    }

    // The Ready loop: persist, then send and reply, then apply. (A leader sends its appends while it
    // persists them: see Ready.sendBeforePersist.)
    const processReady = Effect.gen(function*() {
      while (core.hasReady()) {
        const rd = core.ready()
        const sendAll = Effect.forEach(rd.messages, (m) => FiberSet.run(rpcs, send(m.to, m.request)), { discard: true })
        if (rd.sendBeforePersist) yield* sendAll
        if (rd.snapshot !== undefined) {
          const s = rd.snapshot.snapshot
          yield* storage.installSnapshot(s, { discardLog: rd.snapshot.discardLog })
          // A snapshot to apply came from the leader; any other is the application's own.
          const installed = rd.applySnapshot !== undefined
          if (installed) counters.snapshotsInstalled++
          else counters.snapshotsTaken++
          publish({ _tag: installed ? "SnapshotInstalled" : "SnapshotTaken", index: s.index, bytes: s.data.length })
        }
        if (rd.entries.length > 0 || rd.hardState !== undefined) yield* storage.append(rd.entries, rd.hardState)
        if (!rd.sendBeforePersist) yield* sendAll
        for (const r of rd.replies) {
          const waiter = replyWaiters.get(r.token)
          if (waiter !== undefined) {
            replyWaiters.delete(r.token)
            Deferred.unsafeDone(waiter, Effect.succeed(r.response))
          }
        }
        if (rd.applySnapshot !== undefined) {
          const s = rd.applySnapshot
          yield* Queue.offer(applyQueue, { _tag: "Snapshot", index: s.index, term: s.term, data: s.data })
        }
        counters.applied += rd.committed.length
        if (rd.committed.length > 0) {
          yield* Queue.offerAll(
            applyQueue,
            rd.committed.map((e): ApplyMsg =>
              e.kind === EntryKind.Noop
                ? { _tag: "Noop", index: e.index, term: e.term }
                : e.kind === EntryKind.Config
                ? { _tag: "Membership", index: e.index, term: e.term, membership: Config.decode(e.data) }
                : { _tag: "Command", index: e.index, term: e.term, data: e.data }
            )
          )
        }
        for (const r of rd.reads) readWaiters.get(r.token)?.pipe((d) => Deferred.unsafeDone(d, Effect.succeed(r.index)))
        for (const r of rd.readFailures) {
          readWaiters.get(r.token)?.pipe((d) => Deferred.unsafeDone(d, Effect.fail(new NotLeader({ leaderHint: r.leader }))))
        }
        for (const r of [...rd.reads, ...rd.readFailures]) readWaiters.delete(r.token)
        core.advance()
        stepped()
      }
    })
    yield* Effect.forkScoped(Effect.forever(work.await.pipe(
      Effect.zipRight(Effect.sync(() => work.unsafeClose())),
      Effect.zipRight(processReady)
    )))

    // Timers: sleep until the core's next deadline (re-armed when it moves earlier), then tick.
    yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
      const deadline = core.nextDeadline()
      const wait = deadline - now()
      if (wait > 0) {
        armedDeadline = deadline
        rearm.unsafeClose()
        // Whole milliseconds: a deadline a rounding error ahead of now (1e-12 ms) would otherwise make a
        // sleep that does not move time, and this loop would spin. Timers are 1 ms granular anyway.
        yield* Effect.raceFirst(Clock.sleep(Math.ceil(wait)), rearm.await)
        armedDeadline = Infinity
      } else {
        step({ _tag: "Tick", now: now() })
      }
    })))

    const handle = (request: RaftRequest): Effect.Effect<any> =>
      Effect.suspend(() => {
        const token = nextToken++
        if (request._tag === "AppendEntries") counters.appendEntriesReceived++
        const reply = Deferred.unsafeMake<RaftResponse>(undefined as any)
        replyWaiters.set(token, reply)
        step({ _tag: "Request", now: now(), from: requestSender(request), request, token })
        return Deferred.await(reply)
      })
    yield* transport.serve<Wire.RaftRequest, never>(RaftProtocol, {
      RequestVote: handle,
      AppendEntries: handle,
      Heartbeat: handle,
      InstallSnapshot: handle,
      TimeoutNow: handle
    })

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        stopped = true
        for (const d of readWaiters.values()) Deferred.unsafeDone(d, Effect.fail(new NodeStopped({ id: config.id })))
        readWaiters.clear()
        // Whether a pending change commits is unknown to this node now: the caller sees it as dropped.
        for (const w of changeWaiters) Deferred.unsafeDone(w.deferred, Effect.fail(new ChangeDropped({ index: w.index })))
        changeWaiters.length = 0
        yield* Queue.shutdown(applyQueue)
        yield* PubSub.shutdown(events)
      })
    )

    const change = (c: Config.Change): Effect.Effect<number, MembershipError | NotLeader> =>
      Effect.suspend((): Effect.Effect<number, MembershipError | NotLeader> => {
        if (stopped) return Effect.fail(new NotLeader({ leaderHint: null }))
        const r = core.proposeChange(c)
        stepped()
        switch (r._tag) {
          case "Accepted": {
            const deferred = Deferred.unsafeMake<number, ChangeDropped>(undefined as any)
            changeWaiters.push({ index: r.index, term: r.term, deferred })
            noticeMembership()
            return Deferred.await(deferred)
          }
          case "NotLeader":
            return Effect.fail(new NotLeader({ leaderHint: r.leader }))
          case "ChangeInProgress":
            return Effect.fail(new ChangeInProgress({ detail: r.detail }))
          case "UnknownNode":
            return Effect.fail(new UnknownNode({ id: r.id }))
          case "AlreadyMember":
            return Effect.fail(new AlreadyMember({ id: r.id, role: r.role }))
          case "NotCaughtUp":
            return Effect.fail(new NotCaughtUp({ id: r.id, match: r.match, commit: r.commit }))
          case "LastVoter":
            return Effect.fail(new LastVoter({ id: r.id }))
        }
      })

    const members: Effect.Effect<Members> = Effect.sync(() => {
      const m = core.membership()
      const s = core.status()
      const info = (id: NodeId, role: "voter" | "learner"): MemberInfo => ({
        id,
        role,
        address: m.membership.addresses[id],
        match: id === config.id ? s.lastIndex : core.followerProgress(id)?.match
      })
      return {
        members: [...m.membership.voters.map((id) => info(id, "voter")), ...m.membership.learners.map((id) => info(id, "learner"))],
        index: m.index,
        committed: m.committed,
        rejoining: m.rejoining,
        leader: s.leader
      }
    })

    const shape: RaftShape = {
      id: config.id,
      propose: (data) =>
        Effect.suspend((): Effect.Effect<{ readonly index: number; readonly term: number }, NotLeader | EntryTooLarge> => {
          if (stopped) return Effect.fail(new NotLeader({ leaderHint: null }))
          const r = core.propose(data)
          stepped()
          if (r._tag === "Accepted") counters.proposals++
          return r._tag === "Accepted"
            ? Effect.succeed({ index: r.index, term: r.term })
            : r._tag === "TooLarge"
            ? Effect.fail(new EntryTooLarge({ bytes: data.length, limit: r.limit }))
            : Effect.fail(withoutStack(() => new NotLeader({ leaderHint: r.leader })))
        }),
      readIndex: Effect.suspend(() => {
        if (stopped) return Effect.fail(new NodeStopped({ id: config.id }))
        const token = nextToken++
        const d = Deferred.unsafeMake<number, NotLeader | NodeStopped>(undefined as any)
        readWaiters.set(token, d)
        step({ _tag: "ReadIndex", now: now(), token })
        return Deferred.await(d)
      }),
      status: Effect.sync(() => core.status()),
      applied: Stream.fromQueue(applyQueue),
      snapshot: (index, data) => Effect.sync(() => step({ _tag: "Compact", index, data })),
      transferLeadership: (to) =>
        Effect.suspend(() => {
          const s = core.status()
          if (s.role !== "Leader") return Effect.fail(new NotLeader({ leaderHint: s.leader }))
          step({ _tag: "TransferLeader", now: now(), to })
          return Effect.void
        }),
      sizes: storage.sizes,
      storedSnapshot: storage.snapshot,
      events: Stream.fromPubSub(events),
      counters: Effect.sync(() => ({ ...counters })),
      members,
      addLearner: (id, address) => change({ _tag: "AddLearner", id, address }),
      promote: (id) => change({ _tag: "Promote", id }),
      remove: (id) => change({ _tag: "Remove", id })
    }
    return shape
  }))

/** A Raft node as a Layer (needs a `Transport` and a `LogStorage`). */
export const layer = (config: RaftConfig): Layer.Layer<Raft, StorageError, Transport.Transport | LogStorage> =>
  Layer.scoped(Raft, make(config))
