/**
 * The part of a replica's status every service reports: its Raft state, what it has applied, its
 * storage's sizes and the members it knows (`ReplicaMessages.replicaStatusFields`).
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { ReplicatedStateMachine } from "../raft/ReplicatedStateMachine.js"

export const replicaStatus = <S, C, R>(
  replica: ReplicatedStateMachine<S, C, R>,
  peers: Readonly<Record<string, string>> | undefined
) =>
  Effect.gen(function*() {
    const s = yield* replica.raft.status
    const sizes = yield* replica.raft.sizes
    const local = yield* replica.local
    return {
      fields: {
        id: s.id,
        role: s.role,
        term: s.term,
        leader: s.leader,
        commit: s.commit,
        applied: local.applied,
        logBytes: sizes.logBytes,
        snapshotBytes: sizes.snapshotBytes,
        diskBytes: sizes.diskBytes,
        peers: peers ?? {}
      },
      raft: s,
      state: local.state
    }
  })
