/**
 * The pure core, driven event by event: no Effect runtime, no network, no clock. Each test feeds
 * messages by hand and checks what `ready()` asks for, in the spirit of etcd-io/raft's interaction
 * tests.
 */
import { describe, expect, it } from "vitest"
import { type CoreConfig, type Outgoing, RaftCore, type Ready } from "../../src/raft/core/RaftCore.js"
import {
  AppendEntries,
  AppendEntriesReply,
  Heartbeat,
  HeartbeatReply,
  InstallSnapshot,
  RequestVote,
  RequestVoteReply
} from "../../src/raft/Messages.js"
import { emptyHardState, type LogEntry, type Persisted } from "../../src/raft/core/types.js"

const config = (id: string, over: Partial<CoreConfig> = {}): CoreConfig => ({
  id,
  peers: ["a", "b", "c"],
  electionTimeoutMs: 100,
  heartbeatIntervalMs: 10,
  preVote: true,
  checkQuorum: true,
  leaderNoop: true,
  maxAppendBytes: 1 << 20,
  maxInflight: 4,
  maxApplyEntries: 1000,
  ...over
})

const entry = (index: number, term: number, byte = index): LogEntry => ({ index, term, kind: 0, data: new Uint8Array([byte]) })
const fresh: Persisted = { hardState: emptyHardState, snapshot: undefined, entries: [] }
const persisted = (term: number, entries: ReadonlyArray<LogEntry>, vote: string | null = null): Persisted => ({
  hardState: { term, vote, commit: 0 },
  snapshot: undefined,
  entries
})

/** Runs ready() + advance(), as the shell does after persisting. */
const drain = (core: RaftCore): Ready => {
  const rd = core.ready()
  core.advance()
  return rd
}
const sentTo = (rd: Ready, to: string) => rd.messages.filter((m: Outgoing) => m.to === to).map((m) => m.request)

/** Makes `a` leader of term 1 over b and c by feeding it the votes. */
const electA = (over: Partial<CoreConfig> = {}) => {
  const a = new RaftCore(config("a", over), fresh, 0, 1)
  a.step({ _tag: "Tick", now: 1000 })
  let rd = drain(a)
  const pre = sentTo(rd, "b")[0] as RequestVote
  expect(pre).toMatchObject({ _tag: "RequestVote", preVote: true, term: 1 })
  expect(rd.hardState).toBeUndefined() // a pre-vote changes no durable state
  a.step({ _tag: "Response", now: 1000, from: "b", request: pre, response: new RequestVoteReply({ term: 1, granted: true }) })
  rd = drain(a)
  const vote = sentTo(rd, "b")[0] as RequestVote
  expect(vote).toMatchObject({ preVote: false, term: 1, candidate: "a" })
  expect(rd.hardState).toEqual({ term: 1, vote: "a", commit: 0 }) // persisted before the request leaves
  a.step({ _tag: "Response", now: 1000, from: "b", request: vote, response: new RequestVoteReply({ term: 1, granted: true }) })
  expect(a.status().role).toBe("Leader")
  return a
}

describe("RaftCore", () => {
  it("is deterministic: the same events give the same outputs", () => {
    const run = () => {
      const a = electA()
      a.propose(new Uint8Array([7]))
      return JSON.stringify(drain(a), (_, v) => (v instanceof Uint8Array ? Array.from(v) : v))
    }
    expect(run()).toBe(run())
  })

  it("election: pre-vote, then vote, then leader with a noop, heartbeats and probes", () => {
    const a = electA()
    const rd = drain(a)
    expect(rd.entries.map((e) => [e.index, e.term, e.kind])).toEqual([[1, 1, 1]]) // the noop
    const toB = sentTo(rd, "b")
    expect(toB.map((m) => m._tag).sort()).toEqual(["AppendEntries", "Heartbeat"])
  })

  it("only a leader's appends may leave before its own write is durable; a campaign waits for the disk", () => {
    const a = new RaftCore(config("a"), fresh, 0, 1)
    a.step({ _tag: "Tick", now: 1000 })
    const pre = drain(a)
    expect(pre.sendBeforePersist).toBe(false) // a pre-candidate
    const preVote = sentTo(pre, "b")[0] as RequestVote
    a.step({ _tag: "Response", now: 1000, from: "b", request: preVote, response: new RequestVoteReply({ term: 1, granted: true }) })
    const campaign = drain(a)
    expect(campaign.hardState).toMatchObject({ term: 1, vote: "a" })
    expect(campaign.sendBeforePersist).toBe(false) // the RequestVotes wait for the term and vote
    const vote = sentTo(campaign, "b")[0] as RequestVote
    a.step({ _tag: "Response", now: 1000, from: "b", request: vote, response: new RequestVoteReply({ term: 1, granted: true }) })
    a.propose(new Uint8Array([1]))
    const rd = drain(a)
    expect(rd.entries.length).toBeGreaterThan(0)
    expect(rd.sendBeforePersist).toBe(true) // the leader's appends go while it writes them
  })

  it("grants one vote per term, only to an up-to-date log, and persists it with the reply", () => {
    const b = new RaftCore(config("b"), persisted(2, [entry(1, 1), entry(2, 2)]), 0, 2)
    const ask = (candidate: string, term: number, lastIndex: number, lastTerm: number, token: number) =>
      b.step({
        _tag: "Request",
        now: 5000,
        from: candidate,
        token,
        request: new RequestVote({ term, candidate, lastIndex, lastTerm, preVote: false, transfer: false })
      })
    ask("a", 3, 1, 1, 1) // stale log (last term 1 < 2)
    ask("c", 3, 2, 2, 2) // up to date
    ask("a", 3, 5, 2, 3) // up to date, but b already voted in term 3
    const rd = drain(b)
    expect(rd.replies.map((r) => (r.response as RequestVoteReply).granted)).toEqual([false, true, false])
    expect(rd.hardState).toEqual({ term: 3, vote: "c", commit: 0 })
  })

  it("a follower in its leader's lease ignores a higher-term campaign; a transfer target is let through", () => {
    const b = new RaftCore(config("b"), fresh, 0, 3)
    b.step({ _tag: "Request", now: 10, from: "a", token: 1, request: new Heartbeat({ term: 1, leader: "a", commit: 0, readRound: 0 }) })
    const campaign = (transfer: boolean, token: number) =>
      b.step({
        _tag: "Request",
        now: 20,
        from: "c",
        token,
        request: new RequestVote({ term: 2, candidate: "c", lastIndex: 0, lastTerm: 0, preVote: false, transfer })
      })
    campaign(false, 2)
    expect(b.status()).toMatchObject({ term: 1, leader: "a" })
    campaign(true, 3)
    const rd = drain(b)
    expect(rd.replies.map((r) => (r.response as RequestVoteReply | HeartbeatReply).term)).toEqual([1, 1, 2])
    expect((rd.replies[2]!.response as RequestVoteReply).granted).toBe(true)
  })

  it("AppendEntries: rejects with a conflict hint, then truncates the conflicting suffix", () => {
    // b has entries of terms 1,1,2,2 (the 2s never committed); the leader has 1,1,3,3 in term 3.
    const b = new RaftCore(config("b"), persisted(2, [entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 2)]), 0, 4)
    const append = (prevIndex: number, prevTerm: number, entries: ReadonlyArray<LogEntry>, token: number) =>
      b.step({
        _tag: "Request",
        now: 1,
        from: "a",
        token,
        request: new AppendEntries({ term: 3, leader: "a", prevIndex, prevTerm, entries, commit: 2 })
      })
    append(4, 3, [], 1) // b's entry 4 has term 2: conflict
    append(2, 1, [entry(3, 3, 30), entry(4, 3, 40)], 2)
    const rd = drain(b)
    expect(rd.replies[0]!.response).toMatchObject({ success: false, conflictTerm: 2, conflictIndex: 3 })
    expect(rd.replies[1]!.response).toMatchObject({ success: true, match: 4 })
    expect(rd.entries.map((e) => [e.index, e.term])).toEqual([[3, 3], [4, 3]]) // replaces from 3 on
    expect(rd.committed.map((e) => e.index)).toEqual([1, 2]) // commit = min(leader commit, match)
  })

  it("a stale or duplicate append never truncates entries that follow it", () => {
    const b = new RaftCore(config("b"), persisted(1, [entry(1, 1), entry(2, 1), entry(3, 1)]), 0, 5)
    b.step({
      _tag: "Request",
      now: 1,
      from: "a",
      token: 1,
      request: new AppendEntries({ term: 1, leader: "a", prevIndex: 0, prevTerm: 0, entries: [entry(1, 1)], commit: 0 })
    })
    const rd = drain(b)
    expect(rd.replies[0]!.response).toMatchObject({ success: true, match: 1 })
    expect(rd.entries).toEqual([])
    expect(b.status().lastIndex).toBe(3)
  })

  it("the leader uses conflict hints to skip a whole term, and ignores answers to old probes", () => {
    const a = electA({ leaderNoop: false })
    for (let k = 0; k < 5; k++) a.propose(new Uint8Array([k]))
    let rd = drain(a)
    const probe = sentTo(rd, "b").find((m) => m._tag === "AppendEntries") as AppendEntries
    expect(probe.prevIndex).toBe(0)
    // Pretend b answered an older probe at prevIndex 3: not the current one, ignored.
    const old = new AppendEntries({ ...probe, prevIndex: 3, prevTerm: 1, entries: [] })
    a.step({ _tag: "Response", now: 1001, from: "b", request: old, response: new AppendEntriesReply({ term: 1, success: false, match: 0, conflictIndex: 1, conflictTerm: 0 }) })
    expect(drain(a).messages).toEqual([])
    a.step({ _tag: "Response", now: 1001, from: "b", request: probe, response: new AppendEntriesReply({ term: 1, success: true, match: 5, conflictIndex: 0, conflictTerm: 0 }) })
    rd = drain(a)
    expect(a.followers().find((f) => f.id === "b")).toMatchObject({ match: 5, state: "Replicate" })
    expect(rd.committed.map((e) => e.index)).toEqual([1, 2, 3, 4, 5]) // a + b are a majority
  })

  it("a stale leader learns the higher term from a reply and steps down", () => {
    const a = electA()
    const rd = drain(a)
    const hb = sentTo(rd, "c").find((m) => m._tag === "Heartbeat") as Heartbeat
    a.step({ _tag: "Response", now: 1001, from: "c", request: hb, response: new HeartbeatReply({ term: 5, readRound: 0 }) })
    expect(a.status()).toMatchObject({ role: "Follower", term: 5 })
    expect(drain(a).hardState).toMatchObject({ term: 5, vote: null })
  })

  it("InstallSnapshot replaces a lagging log; the snapshot is persisted, then applied, before later entries", () => {
    const b = new RaftCore(config("b"), persisted(1, [entry(1, 1), entry(2, 1)]), 0, 6)
    const snapshot = { index: 10, term: 2, data: new Uint8Array([9]) }
    b.step({ _tag: "Request", now: 1, from: "a", token: 1, request: new InstallSnapshot({ term: 2, leader: "a", snapshot }) })
    const rd = drain(b)
    expect(rd.snapshot).toEqual({ snapshot, discardLog: true })
    expect(rd.applySnapshot).toEqual(snapshot)
    expect(rd.replies[0]!.response).toMatchObject({ match: 10 })
    expect(b.status()).toMatchObject({ commit: 10, applied: 10, firstIndex: 11, lastIndex: 10 })
  })

  it("the application's snapshot compacts the log, keeping the entries after it", () => {
    const a = electA({ leaderNoop: false })
    for (let k = 0; k < 5; k++) a.propose(new Uint8Array([k]))
    let rd = drain(a)
    const probe = sentTo(rd, "b").find((m) => m._tag === "AppendEntries") as AppendEntries
    a.step({ _tag: "Response", now: 1001, from: "b", request: probe, response: new AppendEntriesReply({ term: 1, success: true, match: 5, conflictIndex: 0, conflictTerm: 0 }) })
    drain(a)
    a.step({ _tag: "Compact", index: 3, data: new Uint8Array([3]) })
    rd = drain(a)
    expect(rd.snapshot).toMatchObject({ snapshot: { index: 3, term: 1 }, discardLog: false })
    expect(a.status()).toMatchObject({ snapshotIndex: 3, firstIndex: 4, lastIndex: 5 })
    expect(() => a.step({ _tag: "Compact", index: 9, data: new Uint8Array() })).toThrow("beyond the applied index")
  })

  it("ReadIndex waits for the heartbeat round of a majority, and fails when leadership is lost", () => {
    const a = electA()
    let rd = drain(a)
    const noop = sentTo(rd, "b").find((m) => m._tag === "AppendEntries") as AppendEntries
    a.step({ _tag: "Response", now: 1001, from: "b", request: noop, response: new AppendEntriesReply({ term: 1, success: true, match: 1, conflictIndex: 0, conflictTerm: 0 }) })
    drain(a)
    a.step({ _tag: "ReadIndex", now: 1002, token: 7 })
    rd = drain(a)
    expect(rd.reads).toEqual([])
    const round = sentTo(rd, "c").find((m) => m._tag === "Heartbeat") as Heartbeat
    expect(round.readRound).toBe(1)
    a.step({ _tag: "Response", now: 1003, from: "c", request: round, response: new HeartbeatReply({ term: 1, readRound: 1 }) })
    expect(drain(a).reads).toEqual([{ token: 7, index: 1 }])
    a.step({ _tag: "ReadIndex", now: 1004, token: 8 })
    a.step({ _tag: "Tick", now: 5000 }) // nobody answered for an election timeout: CheckQuorum steps down
    expect(drain(a).readFailures).toEqual([{ token: 8, leader: null }])
  })

  it("refuses a proposal larger than one AppendEntries may carry; one at the limit is taken", () => {
    const a = electA({ maxAppendBytes: 1000 })
    drain(a)
    const last = a.status().lastIndex
    expect(a.propose(new Uint8Array(1001))).toEqual({ _tag: "TooLarge", limit: 1000 })
    expect(a.status().lastIndex).toBe(last)
    expect(a.propose(new Uint8Array(1000))).toMatchObject({ _tag: "Accepted", index: last + 1 })
  })
})
