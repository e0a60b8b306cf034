/**
 * Cluster configurations: what a `Config` entry holds, the changes a leader may make, and their
 * checks. Plain functions over plain data.
 *
 * **One server at a time, with learners** (Ongaro's thesis §4.1–4.2, hashicorp/raft), not joint
 * consensus (§4.3, etcd's ConfChangeV2). Each change adds a learner, promotes one learner to voter, or
 * removes one member; a single-voter change keeps every majority of the old voters intersecting every
 * majority of the new ones, so a configuration may take effect as soon as it is in a node's log — no
 * intermediate joint configuration, no second entry, no state in which two quorums must both agree.
 * Every change Concord's users need (grow 3 → 5, replace a dead disk, move to new hosts) is a
 * sequence of such steps, and learners make the one costly part (catching up a new node) happen
 * before it counts toward any majority. Joint consensus buys arbitrary atomic changes (replace two
 * voters in one step), at the price of a two-phase protocol whose corner cases etcd needed years to
 * settle; we do not need it. The known pitfall of single-server changes (the bug in the thesis's
 * errata: a leader of a new term must not change the configuration before an entry of its own term
 * commits, or two changes decided by disjoint leaders can overlap) is handled in `RaftCore`.
 * @internal
 */
import type { LogEntry, Membership, NodeId } from "./types.js"

/** A requested change. */
export type Change =
  | { readonly _tag: "AddLearner"; readonly id: NodeId; readonly address: string }
  | { readonly _tag: "Promote"; readonly id: NodeId }
  | { readonly _tag: "Remove"; readonly id: NodeId }

/** Why a change was refused (the shell maps these to typed errors). */
export type Refusal =
  | { readonly _tag: "NotLeader"; readonly leader: NodeId | null }
  /** A configuration entry is not committed yet, or this leader has not committed an entry of its term. */
  | { readonly _tag: "ChangeInProgress"; readonly detail: string }
  | { readonly _tag: "UnknownNode"; readonly id: NodeId }
  | { readonly _tag: "AlreadyMember"; readonly id: NodeId; readonly role: "voter" | "learner" }
  | { readonly _tag: "NotCaughtUp"; readonly id: NodeId; readonly match: number; readonly commit: number }
  | { readonly _tag: "LastVoter"; readonly id: NodeId }

export const bootstrap = (peers: ReadonlyArray<NodeId>, addresses: Readonly<Record<NodeId, string>> = {}): Membership => ({
  voters: [...peers],
  learners: [],
  addresses: Object.fromEntries(peers.filter((p) => addresses[p] !== undefined).map((p) => [p, addresses[p]!]))
})

export const isVoter = (m: Membership, id: NodeId): boolean => m.voters.includes(id)
export const isLearner = (m: Membership, id: NodeId): boolean => m.learners.includes(id)
export const isMember = (m: Membership, id: NodeId): boolean => isVoter(m, id) || isLearner(m, id)

/** Everyone a leader replicates to: voters and learners. */
export const members = (m: Membership): ReadonlyArray<NodeId> => [...m.voters, ...m.learners]

/** The configuration after `change`, or why `change` cannot be made to `m` (leader-side checks aside). */
export const apply = (m: Membership, change: Change): Membership | Refusal => {
  const id = change.id
  switch (change._tag) {
    case "AddLearner": {
      if (isVoter(m, id)) return { _tag: "AlreadyMember", id, role: "voter" }
      if (isLearner(m, id)) return { _tag: "AlreadyMember", id, role: "learner" }
      return {
        voters: m.voters,
        learners: [...m.learners, id],
        addresses: change.address === "" ? m.addresses : { ...m.addresses, [id]: change.address }
      }
    }
    case "Promote": {
      if (isVoter(m, id)) return { _tag: "AlreadyMember", id, role: "voter" }
      if (!isLearner(m, id)) return { _tag: "UnknownNode", id }
      return { voters: [...m.voters, id], learners: m.learners.filter((l) => l !== id), addresses: m.addresses }
    }
    case "Remove": {
      if (!isMember(m, id)) return { _tag: "UnknownNode", id }
      if (m.voters.length === 1 && m.voters[0] === id) return { _tag: "LastVoter", id }
      const { [id]: _, ...addresses } = m.addresses
      return { voters: m.voters.filter((v) => v !== id), learners: m.learners.filter((l) => l !== id), addresses }
    }
  }
}

export const isRefusal = (r: Membership | Refusal): r is Refusal => "_tag" in r

const text = new TextEncoder()
const untext = new TextDecoder()

/** A configuration entry's data (JSON: the core takes no codec dependency; configurations are rare and small). */
export const encode = (m: Membership): Uint8Array =>
  text.encode(JSON.stringify({ voters: m.voters, learners: m.learners, addresses: m.addresses }))

const isIdList = (u: unknown): u is ReadonlyArray<string> => Array.isArray(u) && u.every((x) => typeof x === "string")

/** Decodes a configuration entry's data; a malformed one is a defect (it was written by a leader's `encode`). */
export const decode = (data: Uint8Array): Membership => {
  const m = JSON.parse(untext.decode(data)) as { voters: unknown; learners: unknown; addresses: unknown }
  if (
    !isIdList(m.voters) || !isIdList(m.learners) || typeof m.addresses !== "object" || m.addresses === null ||
    !Object.values(m.addresses).every((a) => typeof a === "string")
  ) {
    throw new Error(`malformed configuration entry: ${untext.decode(data)}`)
  }
  return { voters: m.voters, learners: m.learners, addresses: m.addresses as Record<string, string> }
}

/** The configuration an entry sets, if it is a configuration entry. */
export const ofEntry = (e: LogEntry): Membership | undefined => e.kind === 2 ? decode(e.data) : undefined

export const equal = (a: Membership, b: Membership): boolean =>
  JSON.stringify(a.voters) === JSON.stringify(b.voters) && JSON.stringify(a.learners) === JSON.stringify(b.learners) &&
  JSON.stringify(a.addresses) === JSON.stringify(b.addresses)

/** One line for logs and test output: `voters a,b,c learners d`. */
export const describe = (m: Membership): string =>
  `voters ${m.voters.join(",") || "-"}${m.learners.length > 0 ? ` learners ${m.learners.join(",")}` : ""}`
