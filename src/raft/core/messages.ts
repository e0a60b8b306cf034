/**
 * Raft's messages as the pure core sees them: plain data. The wire classes (`raft/Messages.ts`,
 * Schema classes that also know how to encode themselves) define the fields; these types are those
 * classes' fields and nothing else, imported as types only, so the core has no run-time dependency
 * on Schema: the shell turns an outgoing message into its wire class (`Raft.ts`), and an incoming
 * wire instance is already one of these.
 * @internal
 */
import type * as Wire from "../Messages.js"

/** The string-keyed members of a class instance (its fields), without the symbols Schema adds. */
type Plain<T> = { readonly [K in keyof T as K extends symbol ? never : K]: T[K] }

export type RequestVote = Plain<Wire.RequestVote>
export type RequestVoteReply = Plain<Wire.RequestVoteReply>
export type AppendEntries = Plain<Wire.AppendEntries>
export type AppendEntriesReply = Plain<Wire.AppendEntriesReply>
export type Heartbeat = Plain<Wire.Heartbeat>
export type HeartbeatReply = Plain<Wire.HeartbeatReply>
export type InstallSnapshot = Plain<Wire.InstallSnapshot>
export type InstallSnapshotReply = Plain<Wire.InstallSnapshotReply>
export type TimeoutNow = Plain<Wire.TimeoutNow>

export type RaftRequest = RequestVote | AppendEntries | Heartbeat | InstallSnapshot | TimeoutNow
export type RaftResponse = RequestVoteReply | AppendEntriesReply | HeartbeatReply | InstallSnapshotReply | void
