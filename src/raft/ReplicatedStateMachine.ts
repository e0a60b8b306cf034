/**
 * Replicate your own state machine on a `Raft` node.
 *
 * You write a pure `StateMachine` (initial state, `apply`, `snapshot`, `restore`) and a Schema for its
 * commands; `make` runs it on the node's committed log and gives you:
 * - `execute(command)`: propose, wait until the command is applied here, return `apply`'s result;
 * - `read(f)`: a linearizable read of the state (ReadIndex: no log write);
 * - automatic snapshots once the log grows past `snapshotLogBytes`.
 * @since 0.1.0
 */
import { type Chunk, Data, Deferred, Effect, Either, type Schema, type Scope, Stream } from "effect"
import * as Codec from "../codec/Codec.js"
import type { StorageError } from "./LogStorage.js"
import type { NotLeader } from "./Messages.js"
import { type ApplyMsg, type EntryTooLarge, NodeStopped, Raft, type RaftShape } from "./Raft.js"

/**
 * A deterministic state machine: the same commands in the same order give the same states and results.
 * `apply` may return a new state, or update `state` in place and return it (cheaper for large states);
 * in that case `initial` and `restore` must return fresh objects, and `read` callbacks must not keep
 * the state they are given.
 */
export interface StateMachine<S, C, R> {
  /** The state of an empty log. Called once per node. */
  readonly initial: () => S
  /** Applies one committed command. Must be deterministic (no clock, no randomness, no I/O). */
  readonly apply: (state: S, command: C) => readonly [S, R]
  readonly snapshot: (state: S) => Uint8Array
  readonly restore: (data: Uint8Array) => S
}

export interface Options<C, I> {
  /** How commands are stored in the log. */
  readonly command: Schema.Schema<C, I>
  /** Snapshot once the Raft log (hard state + entries) exceeds this many bytes; -1 never. Default 4 MiB. */
  readonly snapshotLogBytes?: number
  /**
   * Also hold a snapshot until the log is at least this many times the previous snapshot's size.
   * Each snapshot encodes the whole state, so with a state much larger than `snapshotLogBytes` the
   * byte limit alone would re-encode it every few thousand writes (a pause on the main thread each
   * time); with a ratio of r, encoding costs at most 1/r bytes per byte logged, and the log stays
   * within max(snapshotLogBytes, r × the state). Default 0: the byte limit alone (the labs' rule).
   */
  readonly snapshotLogRatio?: number
}

/** The proposal was superseded (leadership changed before it committed): it did not take effect. Retry. */
export class ProposalDropped extends Data.TaggedError("ProposalDropped")<{ readonly index: number }> {
  override get message() {
    return `the proposal at index ${this.index} was replaced by another leader's entry; it did not take effect`
  }
}

/** A snapshot from the leader covered the proposal: it may or may not have taken effect. */
export class OutcomeUnknown extends Data.TaggedError("OutcomeUnknown")<{ readonly index: number }> {
  override get message() {
    return `the proposal at index ${this.index} was covered by a snapshot; whether it took effect is unknown`
  }
}

export interface ReplicatedStateMachine<S, C, R> {
  /** Proposes `command` (this node must lead) and returns its result once applied here. */
  readonly execute: (
    command: C
  ) => Effect.Effect<R, NotLeader | EntryTooLarge | ProposalDropped | OutcomeUnknown | NodeStopped>
  /** A linearizable read: confirms leadership with a majority, waits to apply through the read point. */
  readonly read: <A>(f: (state: S) => A) => Effect.Effect<A, NotLeader | NodeStopped>
  /** The local state and how far it is applied (may lag the leader; for diagnostics). */
  readonly local: Effect.Effect<{ readonly state: S; readonly applied: number }>
  /** The underlying node. */
  readonly raft: RaftShape
}

interface Waiter<R> {
  readonly term: number
  readonly deferred: Deferred.Deferred<R, ProposalDropped | OutcomeUnknown | NodeStopped>
}

/** Runs `machine` on the `Raft` node in context until the scope closes. */
export const make = <S, C, R, I>(
  machine: StateMachine<S, C, R>,
  options: Options<C, I>
): Effect.Effect<ReplicatedStateMachine<S, C, R>, StorageError, Raft | Scope.Scope> =>
  Effect.gen(function*() {
    const raft = yield* Raft
    const codec = Codec.make(options.command as Schema.Schema<C, I, never>, "command")
    const limit = options.snapshotLogBytes ?? 4 * 1024 * 1024
    const ratio = options.snapshotLogRatio ?? 0
    let lastSnapshotBytes = 0
    let state = machine.initial()
    let applied = 0
    let stopped = false
    const waiters = new Map<number, Waiter<R>>()
    const reads: Array<{ index: number; resume: (result: Effect.Effect<void, NodeStopped>) => void }> = []
    let lastSnapshot = 0

    // A restarting node resumes from its own latest snapshot (Raft replays only the entries after it).
    // Messages at or below what is loaded here are skipped below, so a snapshot installed by the
    // leader meanwhile is handled too.
    const snap = yield* raft.storedSnapshot
    if (snap !== undefined) {
      state = machine.restore(snap.data)
      applied = snap.index
      lastSnapshot = snap.index
      lastSnapshotBytes = snap.data.length
    }

    const releaseReads = () => {
      let n = 0
      while (n < reads.length && reads[n]!.index <= applied) n++
      for (const r of reads.splice(0, n)) r.resume(Effect.void)
    }

    /** Applies one message; a defect (a command that does not decode) if it cannot be. */
    const applyOne = (msg: ApplyMsg): Codec.DecodeError | undefined => {
      if (msg.index <= applied) return undefined
      if (msg._tag === "Snapshot") {
        state = machine.restore(msg.data)
        applied = msg.index
        lastSnapshotBytes = msg.data.length
        for (const [index, w] of waiters) {
          if (index <= msg.index) {
            waiters.delete(index)
            Deferred.unsafeDone(w.deferred, Effect.fail(new OutcomeUnknown({ index })))
          }
        }
        return undefined
      }
      let result: R | undefined
      if (msg._tag === "Command") {
        const decoded = codec.decode(msg.data)
        // A command that does not decode was written by a different version of the application.
        if (decoded._tag === "Left") return decoded.left
        const [next, r] = machine.apply(state, decoded.right)
        state = next
        result = r
      }
      applied = msg.index
      const w = waiters.get(msg.index)
      if (w !== undefined) {
        waiters.delete(msg.index)
        Deferred.unsafeDone(
          w.deferred,
          w.term === msg.term && msg._tag === "Command"
            ? Effect.succeed(result as R)
            : Effect.fail(new ProposalDropped({ index: msg.index }))
        )
      }
      return undefined
    }

    // The committed entries arrive in chunks (all that one Ready committed): applied in one loop, and
    // the snapshot threshold checked once per chunk rather than per entry.
    const onApply = (msgs: Chunk.Chunk<ApplyMsg>): Effect.Effect<void> =>
      Effect.suspend(() => {
        for (const msg of msgs) {
          const bad = applyOne(msg)
          if (bad !== undefined) return Effect.die(bad)
        }
        releaseReads()
        if (limit < 0 || applied <= lastSnapshot) return Effect.void
        return Effect.flatMap(raft.sizes, (sizes) => {
          if (sizes.logBytes <= limit || sizes.logBytes < ratio * lastSnapshotBytes) return Effect.void
          return Effect.flatMap(Effect.either(raft.storedSnapshot), (persisted) => {
            // The log shrinks only once the last snapshot is durable: until then, do not encode the
            // whole state again for every chunk applied meanwhile. (A storage that cannot tell holds
            // nothing back.)
            if (Either.isRight(persisted) && (persisted.right?.index ?? 0) < lastSnapshot) return Effect.void
            lastSnapshot = applied
            const data = machine.snapshot(state)
            lastSnapshotBytes = data.length
            return raft.snapshot(applied, data)
          })
        })
      })

    yield* Effect.forkScoped(Stream.runForEachChunk(raft.applied, onApply))
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        stopped = true
        const stop = Effect.fail(new NodeStopped({ id: raft.id }))
        for (const w of waiters.values()) Deferred.unsafeDone(w.deferred, stop)
        waiters.clear()
        for (const r of reads.splice(0)) r.resume(stop)
      })
    )

    return {
      raft,
      local: Effect.sync(() => ({ state, applied })),
      execute: (command) =>
        Effect.gen(function*() {
          if (stopped) return yield* new NodeStopped({ id: raft.id })
          const { index, term } = yield* raft.propose(codec.encode(command))
          const deferred = yield* Deferred.make<R, ProposalDropped | OutcomeUnknown | NodeStopped>()
          waiters.set(index, { term, deferred })
          return yield* Deferred.await(deferred)
        }),
      read: (f) =>
        Effect.gen(function*() {
          const index = yield* raft.readIndex
          if (applied < index) {
            if (stopped) return yield* new NodeStopped({ id: raft.id })
            yield* Effect.async<void, NodeStopped>((resume) => {
              reads.push({ index, resume })
              reads.sort((a, b) => a.index - b.index)
            })
          }
          return f(state)
        })
    }
  })

