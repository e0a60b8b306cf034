/**
 * How a server replicated on Raft answers a request: under the server's request deadline, with the
 * replica's failures turned into the three wire errors every clerk understands. `NotLeader` goes as
 * is (with its hint), a command too large for the log is an `InvalidRequest`, and everything that
 * means "this replica cannot tell you now" (a proposal dropped or covered by a snapshot, the node
 * stopping, the deadline passing) is a `Retry`.
 * @since 0.1.0
 */
import { Effect, type Scope } from "effect"
import { NotLeader } from "../raft/Messages.js"
import { EntryTooLarge, type NodeStopped } from "../raft/Raft.js"
import type { OutcomeUnknown, ProposalDropped } from "../raft/ReplicatedStateMachine.js"
import * as Deadlines from "./Deadlines.js"
import { InvalidRequest, Retry } from "./Messages.js"

/** What `ReplicatedStateMachine.execute` and `read` fail with. */
export type ReplicaError = NotLeader | EntryTooLarge | ProposalDropped | OutcomeUnknown | NodeStopped

/** What a replicated server's requests fail with on the wire. */
export type WireError = NotLeader | Retry | InvalidRequest

export type Answer = <A, E>(
  effect: Effect.Effect<A, E | ReplicaError>
) => Effect.Effect<A, Exclude<E, ReplicaError> | WireError>

const toWire = (e: ReplicaError): WireError =>
  e instanceof NotLeader
    ? e
    : e instanceof EntryTooLarge
    ? new InvalidRequest({ code: "value_too_large", reason: e.message })
    : new Retry({ reason: e.message })

const isReplicaError = (e: unknown): e is ReplicaError => {
  const tag = (e as { _tag?: unknown })?._tag
  return tag === "NotLeader" || tag === "EntryTooLarge" || tag === "ProposalDropped" || tag === "OutcomeUnknown" ||
    tag === "NodeStopped"
}

/** Starts the deadline watcher in the current scope; a request not done within `timeoutMs` answers `Retry`. */
export const make = (timeoutMs: number): Effect.Effect<Answer, never, Scope.Scope> =>
  Effect.map(
    Deadlines.make(timeoutMs, () => new Retry({ reason: `not applied within ${timeoutMs} ms` })),
    (withDeadline): Answer => (effect) =>
      withDeadline(effect).pipe(
        Effect.catchIf(isReplicaError, (e) => Effect.fail(toWire(e)))
      ) as any
  )
