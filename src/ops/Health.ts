/**
 * A node's health, for `GET /health` (etcd's `/health` is the model): healthy when the node knows a
 * leader and its state machine is keeping up — it has applied everything it knows to be committed, or
 * its applied index has moved within `stallMs`.
 *
 * "Knows a leader" is a strong signal in this Raft: a follower that stops hearing from its leader
 * campaigns after an election timeout and forgets it (PreVote), and a leader that has not heard from
 * a majority within an election timeout steps down (CheckQuorum). So a node cut off from the majority
 * reports unhealthy within about one election timeout, and a node that leads reports healthy only
 * while a majority answers it.
 * @since 0.1.0
 */
import { Clock, Duration, Effect, type Scope } from "effect"
import type { RaftShape } from "../raft/Raft.js"
import type { MemberStatus } from "./StatusPage.js"

/** The verdict, and the status fields it was drawn from. */
export interface Report extends Pick<MemberStatus, "id" | "role" | "term" | "leader" | "commit" | "applied"> {
  readonly healthy: boolean
  /** Empty when healthy; otherwise one line saying why not. */
  readonly reason: string
}

export interface Options {
  /** Unhealthy when behind the commit index and the applied index has not moved for this long. Default 5 s. */
  readonly stallMs?: number
  /** How often progress is sampled. Default 100 ms. */
  readonly sampleMs?: number
}

export interface Health {
  readonly check: Effect.Effect<Report>
}

/** Starts watching the node's progress in the current scope. */
export const make = (
  raft: RaftShape,
  applied: Effect.Effect<number>,
  options: Options = {}
): Effect.Effect<Health, never, Scope.Scope> =>
  Effect.gen(function*() {
    const stallMs = options.stallMs ?? 5000
    let lastApplied = -1
    let lastProgress = yield* Clock.currentTimeMillis
    const sample = Effect.gen(function*() {
      const status = yield* raft.status
      const a = yield* applied
      const now = yield* Clock.currentTimeMillis
      if (a > lastApplied || a >= status.commit) lastProgress = now
      lastApplied = Math.max(lastApplied, a)
      return { status, applied: a, now }
    })
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(sample, Effect.sleep(Duration.millis(options.sampleMs ?? 100)))))
    const check = Effect.map(sample, ({ applied, now, status }): Report => {
      const stalledMs = now - lastProgress
      const reason = status.leader === null
        ? `no leader: this node is ${status.role} in term ${status.term} and has not heard from a leader with a majority`
        : applied < status.commit && stalledMs > stallMs
        ? `applied index ${applied} has not moved for ${(stalledMs / 1000).toFixed(1)} s while the commit index is ${status.commit}`
        : ""
      return {
        healthy: reason === "",
        reason,
        id: status.id,
        role: status.role,
        term: status.term,
        leader: status.leader,
        commit: status.commit,
        applied
      }
    })
    return { check }
  })
