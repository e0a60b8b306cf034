/**
 * How a server replicated on Raft answers a request: under the server's request deadline, with the
 * replica's failures turned into the three wire errors every clerk understands. `NotLeader` goes as
 * is (with its hint), a command too large for the log is an `InvalidRequest`, and everything that
 * means "this replica cannot tell you now" (a proposal dropped or covered by a snapshot, the node
 * stopping, the deadline passing) is a `Retry`.
 *
 * The deadline is the transport's (`Transport.serve`'s `deadline` option, made by `deadline`): one
 * watcher for all requests, where a fiber forked per request to be interrupted measured about a
 * third of a leader's CPU per put.
 * @since 0.1.0
 */
import { Effect } from "effect"
import { NotLeader } from "../raft/Messages.js"
import { EntryTooLarge, type NodeStopped } from "../raft/Raft.js"
import type { OutcomeUnknown, ProposalDropped } from "../raft/ReplicatedStateMachine.js"
import type { AnyRequest, ServeOptions } from "../rpc/Transport.js"
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

/** Turns a replica's failures into wire errors. */
export const answer: Answer = (effect) => Effect.catchIf(effect, isReplicaError, (e) => Effect.fail(toWire(e))) as any

/**
 * The serve options of a replicated server: a request of one of `tags` not answered within
 * `timeoutMs` is answered `Retry` (its handler is interrupted). Pass them to `Transport.serve`.
 */
export const deadline = <Req extends AnyRequest>(timeoutMs: number, tags: ReadonlyArray<Req["_tag"]>): ServeOptions<Req> => {
  const under = new Set<string>(tags)
  const reason = `not applied within ${timeoutMs} ms`
  return {
    deadline: {
      ms: timeoutMs,
      onTimeout: (request) => under.has(request._tag) ? new Retry({ reason }) as any : undefined
    }
  }
}
