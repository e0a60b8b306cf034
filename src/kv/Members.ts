/**
 * Cluster membership of the key/value service: the server side of `KvAdminProtocol` (what a node
 * answers), and the client side (`change`, `view`: find the leader from any member and run a change
 * there), shared by `concord kv member …` and the HTTP API's `/v1/members`.
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Either } from "effect"
import type * as Raft from "../raft/Raft.js"
import { NotLeader } from "../raft/Messages.js"
import { type NodeId, Transport, type TransportError } from "../rpc/Transport.js"
import { KvMemberChange, KvMembers, MemberEntry, MemberRefused, MembersView } from "./Messages.js"

/** A change wider than this (no commit: no majority) is answered `Unavailable`. */
const CHANGE_TIMEOUT = Duration.seconds(5)

/** This node's view of the configuration. */
export const viewOf = (raft: Raft.RaftShape): Effect.Effect<MembersView> =>
  Effect.map(raft.members, (m) =>
    new MembersView({
      id: raft.id,
      leader: m.leader,
      members: m.members.map((x) => new MemberEntry({ id: x.id, role: x.role, address: x.address ?? null, match: x.match ?? null })),
      index: m.index,
      committed: m.committed,
      rejoining: m.rejoining
    }))

const refused = (e: Raft.MembershipError): MemberRefused =>
  new MemberRefused({ reason: e._tag, detail: e.message })

/** Runs `op` on this node's Raft (it must lead). */
const run = (raft: Raft.RaftShape, req: KvMemberChange): Effect.Effect<number, NotLeader | MemberRefused> => {
  const unavailable = new MemberRefused({
    reason: "Unavailable",
    detail: `the change did not commit within ${Duration.format(CHANGE_TIMEOUT)} (has the cluster lost its majority?); it may still take effect`
  })
  switch (req.op) {
    case "add":
    case "promote":
    case "remove": {
      const change = req.op === "add" ? raft.addLearner(req.id, req.address) : req.op === "promote" ? raft.promote(req.id) : raft.remove(req.id)
      return change.pipe(
        Effect.catchIf((e): e is Raft.MembershipError => !(e instanceof NotLeader), (e) => Effect.fail(refused(e))),
        Effect.timeoutFail({ duration: CHANGE_TIMEOUT, onTimeout: () => unavailable })
      )
    }
    case "transfer":
      return Effect.gen(function*() {
        const m = yield* raft.members
        if (!m.members.some((x) => x.id === req.id && x.role === "voter")) {
          return yield* Effect.fail(new MemberRefused({ reason: "UnknownNode", detail: `${req.id} is not a voter of the cluster` }))
        }
        const s = yield* raft.status
        if (s.role === "Leader" && req.id === raft.id) return 0
        yield* raft.transferLeadership(req.id)
        // Done once this node no longer leads (the target campaigns as soon as its log is up to date).
        for (let i = 0; i < 40; i++) {
          yield* Effect.sleep("50 millis")
          const now = yield* raft.status
          if (now.role !== "Leader") return 0
        }
        return yield* Effect.fail(
          new MemberRefused({ reason: "Unavailable", detail: `leadership did not move to ${req.id} within 2s (is it caught up and reachable?)` })
        )
      })
  }
}

/** The `KvAdminProtocol` handlers of a node. */
export const handlers = (raft: Raft.RaftShape) => ({
  KvMembers: () => viewOf(raft),
  KvMemberChange: (req: KvMemberChange) => run(raft, req)
})

/** A change as a client asks for it. */
export interface Change {
  readonly op: "add" | "promote" | "remove" | "transfer"
  readonly id: NodeId
  readonly address?: string
}

/**
 * Runs `change` at the leader: asks `first` (an id or `host:port` the Transport can dial), follows
 * `NotLeader` hints (through the addresses of the members it learns), retries unreachable nodes and
 * `ChangeInProgress` until `timeout`. Fails with the last refusal, or `TransportError` if no node answered.
 */
export const change = (
  first: ReadonlyArray<string>,
  c: Change,
  timeout: Duration.DurationInput
): Effect.Effect<number, MemberRefused | TransportError | NotLeader, Transport> =>
  Effect.gen(function*() {
    const transport = yield* Transport
    const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(Duration.decode(timeout))
    const request = new KvMemberChange({ op: c.op, id: c.id, address: c.address ?? "" })
    const addresses = new Map<string, string>()
    let targets = [...first]
    let lastError: MemberRefused | TransportError | NotLeader | undefined
    while ((yield* Clock.currentTimeMillis) < deadline) {
      for (const target of targets) {
        const r = yield* Effect.either(transport.call(target, request, { timeout: "7 seconds" }))
        if (Either.isRight(r)) return r.right
        lastError = r.left
        if (r.left._tag === "MemberRefused" && r.left.reason !== "ChangeInProgress") return yield* Effect.fail(r.left)
        if (r.left._tag === "NotLeader" && r.left.leaderHint !== null) {
          // Learn the members' addresses from whoever answered, then go to the leader.
          const v = yield* Effect.either(transport.call(target, new KvMembers()))
          if (Either.isRight(v)) for (const m of v.right.members) if (m.address !== null) addresses.set(m.id, m.address)
          const hint = addresses.get(r.left.leaderHint) ?? r.left.leaderHint
          targets = [hint, ...first.filter((t) => t !== hint)]
          break
        }
      }
      yield* Effect.sleep("200 millis")
    }
    return yield* Effect.fail(lastError ?? new MemberRefused({ reason: "Unavailable", detail: "no member answered" }))
  })

/** The configuration as seen by the first of `endpoints` that answers (preferring the leader's view). */
export const view = (endpoints: ReadonlyArray<string>): Effect.Effect<MembersView, TransportError, Transport> =>
  Effect.gen(function*() {
    const transport = yield* Transport
    let last: TransportError | undefined
    for (const e of endpoints) {
      const r = yield* Effect.either(transport.call(e, new KvMembers()))
      if (Either.isLeft(r)) {
        last = r.left
        continue
      }
      const v = r.right
      const leaderAddress = v.leader === null || v.leader === v.id ? undefined : v.members.find((m) => m.id === v.leader)?.address
      if (leaderAddress === undefined || leaderAddress === null) return v
      const fromLeader = yield* Effect.either(transport.call(leaderAddress, new KvMembers()))
      return Either.isRight(fromLeader) ? fromLeader.right : v
    }
    return yield* Effect.fail(last!)
  })
