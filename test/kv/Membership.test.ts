/**
 * Cluster membership in simulation: the KV service under client load while nodes are added as
 * learners, promoted and removed, with partitions, crashes and an unreliable network; a dead node
 * replaced by a fresh one; and the amnesia guard (a voter back with an empty disk) with its negative
 * control.
 *
 * The harness here is the KV harness's model with a changing set of servers: a pool of ids, each on a
 * full mesh of simulated ends (so a node added later is reachable by id), memory storage that a
 * restarted node gets a copy of, clerks that know the whole pool. Continuous invariants, checked
 * after every step of every node (a violation fails the test at once):
 * - election safety: at most one leader per term;
 * - log matching: two stored entries with the same index and term have the same data;
 * - state machine safety: no two nodes commit different entries at an index;
 * - leader completeness: a new leader's log holds every entry committed anywhere.
 * Every history is checked for linearizability.
 */
import { Deferred, type Duration, Effect, Exit, Layer, Random, Scope } from "effect"
import { describe, expect } from "vitest"
import * as KvClient from "../../src/kv/KvClient.js"
import * as Kv from "../../src/kv/KvStateMachine.js"
import * as KvServer from "../../src/kv/KvServer.js"
import type { RaftCore } from "../../src/raft/core/RaftCore.js"
import * as LogStorage from "../../src/raft/LogStorage.js"
import * as Raft from "../../src/raft/Raft.js"
import * as RaftConfig from "../../src/raft/RaftConfig.js"
import * as SimNetwork from "../../src/rpc/SimNetwork.js"
import { Transport } from "../../src/rpc/Transport.js"
import * as MemoryStorage from "../../src/storage/MemoryStorage.js"
import { LATENCY_MS } from "../support/KvHarness.js"
import { Failed, makeRecorder } from "../support/Recorder.js"
import { simTest, TestRun } from "../support/simTest.js"

class Fatal extends Error {
  override readonly name = "Fatal"
}

interface Server {
  readonly scope: Scope.CloseableScope
  readonly raft: Raft.RaftShape
  readonly kv: KvServer.KvServerShape
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i])

interface HarnessOptions {
  readonly pool: number
  readonly initial: number
  readonly maxraftstate?: number
  /** false: record violated invariants (`violations`) instead of failing (the negative control). */
  readonly strict?: boolean
}

const makeHarness = (options: HarnessOptions) =>
  Effect.gen(function*() {
    const run = yield* TestRun
    const net = yield* SimNetwork.make()
    yield* net.setLatency(LATENCY_MS[0], LATENCY_MS[1])
    const pool = Array.from({ length: options.pool }, (_, i) => `n${i}`)
    const bootstrap = pool.slice(0, options.initial)
    const servers = new Map<string, Server>()
    const storage = new Map<string, MemoryStorage.MemoryStorage>()
    const fatal = yield* Deferred.make<never, Fatal>()
    const violations: Array<string> = []
    const die = (message: string) => {
      if (options.strict === false) violations.push(message)
      else Deferred.unsafeDone(fatal, Exit.fail(new Fatal(message)))
    }

    // -- invariants -----------------------------------------------------------------------------
    const leaderOfTerm = new Map<number, string>()
    const ledTerm = new Map<string, number>()
    const committed = new Map<number, { term: number; data: Uint8Array }>()
    let maxCommitted = 0
    const checkedTo = new Map<string, number>()
    const entryAt = new Map<string, Uint8Array>()
    /** Every (term, vote) a node granted, by node id, across its lives: the amnesia tests read it. */
    const votes = new Map<string, Map<number, string>>()
    let doubleVotes: Array<string> = []

    const cores = new Map<string, RaftCore>()
    const observe = (core: RaftCore) => {
      cores.set(core.config.id, core)
      const s = core.status()
      const id = s.id
      if (s.vote !== null) {
        const mine = votes.get(id) ?? new Map<number, string>()
        votes.set(id, mine)
        const before = mine.get(s.term)
        if (before !== undefined && before !== s.vote) doubleVotes.push(`${id} voted for ${before} and ${s.vote} in term ${s.term}`)
        mine.set(s.term, s.vote)
      }
      // State machine safety: what this node knows committed matches what everyone else committed.
      for (let i = Math.max(checkedTo.get(id) ?? 0, core.log.snapshotIndex) + 1; i <= Math.min(s.commit, s.lastIndex); i++) {
        const e = core.log.entry(i)!
        const other = committed.get(i)
        if (other === undefined) committed.set(i, { term: e.term, data: e.data })
        else if (other.term !== e.term || !sameBytes(other.data, e.data)) {
          return die(`state machine safety: ${id} commits ${i}@${e.term}, another node committed ${i}@${other.term}`)
        }
        if (i > maxCommitted) maxCommitted = i
      }
      checkedTo.set(id, Math.max(checkedTo.get(id) ?? 0, s.commit))
      if (s.role !== "Leader") return
      const other = leaderOfTerm.get(s.term)
      if (other !== undefined && other !== id) return die(`election safety: term ${s.term} has leaders ${other} and ${id}`)
      leaderOfTerm.set(s.term, id)
      if (ledTerm.get(id) === s.term) return
      ledTerm.set(id, s.term)
      for (let i = core.log.snapshotIndex + 1; i <= maxCommitted; i++) {
        const c = committed.get(i)
        if (c !== undefined && core.log.term(i) !== c.term) {
          return die(`leader completeness: ${id}, leader of term ${s.term}, lacks committed entry ${i}@${c.term}`)
        }
      }
    }
    const observer = Layer.succeed(Raft.RaftObserver, { observe })

    const checkedStorage = (inner: MemoryStorage.MemoryStorage): LogStorage.LogStorageShape => ({
      ...inner,
      append: (entries, hardState) =>
        Effect.suspend(() => {
          for (const e of entries) {
            const key = `${e.index}@${e.term}`
            const seen = entryAt.get(key)
            if (seen === undefined) entryAt.set(key, e.data)
            else if (!sameBytes(seen, e.data)) die(`log matching: two different entries at ${key}`)
          }
          return inner.append(entries, hardState)
        })
    })

    // -- nodes ----------------------------------------------------------------------------------
    /** Starts `id` over its storage (a fresh one if it has none). `peers`: bootstrap members, [] to join. */
    const start = (id: string, peers: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        yield* stop(id)
        const previous = storage.get(id)
        const store = previous === undefined ? yield* MemoryStorage.make : yield* previous.copy
        storage.set(id, store)
        checkedTo.delete(id)
        const scope = yield* Scope.make()
        const config = RaftConfig.make({ id, peers, electionTimeoutMs: 300, heartbeatIntervalMs: 100 })
        const transport = yield* net.meshTransport(id, pool)
        const server = yield* Effect.gen(function*() {
          const raft = yield* Raft.make(config)
          const kv = yield* KvServer.make({ maxRaftState: options.maxraftstate ?? 2000 }).pipe(Effect.provideService(Raft.Raft, raft))
          return { raft, kv, scope }
        }).pipe(
          Effect.provideService(Transport, transport),
          Effect.provideService(LogStorage.LogStorage, checkedStorage(store)),
          Effect.provide(observer),
          Scope.extend(scope),
          Effect.orDie
        )
        servers.set(id, server)
      })

    /** Crashes `id` (its storage survives). */
    const stop = (id: string) =>
      Effect.gen(function*() {
        const s = servers.get(id)
        servers.delete(id)
        if (s !== undefined) yield* Scope.close(s.scope, Exit.void)
      })

    /** `id` loses its disk (stopped, storage gone). */
    const wipe = (id: string) => Effect.zipRight(stop(id), Effect.sync(() => void storage.delete(id)))

    /** Cuts (or restores) every link between `id` and the rest of the pool. */
    const isolate = (id: string, cut: boolean) =>
      Effect.forEach(pool.filter((p) => p !== id), (p) =>
        Effect.zipRight(net.enable(`${id}->${p}`, !cut), net.enable(`${p}->${id}`, !cut)), { discard: true })

    const leader = Effect.gen(function*() {
      let best: { id: string; term: number } | undefined
      for (const [id, s] of servers) {
        const st = yield* s.raft.status
        if (st.role === "Leader" && (best === undefined || st.term > best.term)) best = { id, term: st.term }
      }
      return best?.id
    })

    /** Waits (simulated time) for a leader; fails after `ms`. */
    const awaitLeader = (ms = 10_000) =>
      Effect.gen(function*() {
        for (let t = 0; t < ms; t += 50) {
          const l = yield* leader
          if (l !== undefined) return l
          yield* Effect.sleep("50 millis")
        }
        return yield* Effect.fail(new Failed(`no leader within ${ms} ms`))
      })

    /** Runs a membership change at the current leader, retrying refusals and leader changes, up to `ms`. */
    const change = (what: string, f: (raft: Raft.RaftShape) => Effect.Effect<number, Raft.MembershipError | Raft.NotLeader>, ms = 20_000) =>
      Effect.gen(function*() {
        let last = ""
        for (let t = 0; t < ms; t += 100) {
          const l = yield* leader
          if (l !== undefined) {
            const r = yield* Effect.either(Effect.timeout(f(servers.get(l)!.raft), "2 seconds"))
            if (r._tag === "Right") return r.right
            last = r.left.message
            if (r.left._tag === "AlreadyMember" || r.left._tag === "UnknownNode" || r.left._tag === "LastVoter") {
              return yield* Effect.fail(new Failed(`${what}: ${last}`))
            }
          }
          yield* Effect.sleep("100 millis")
        }
        return yield* Effect.fail(new Failed(`${what} did not complete within ${ms} ms (${last})`))
      })

    // -- clients --------------------------------------------------------------------------------
    const recorder = makeRecorder(run, "membership")
    let clerks = 0
    const makeClerk = Effect.gen(function*() {
      const name = `clerk-${clerks++}`
      const order = [...pool]
      for (let k = order.length - 1; k > 0; k--) {
        const r = yield* Random.nextIntBetween(0, k + 1)
        ;[order[k], order[r]] = [order[r]!, order[k]!]
      }
      const client = yield* KvClient.make({ servers: order }).pipe(
        Effect.provideService(Transport, yield* net.meshTransport(name, pool))
      )
      return {
        get: (cli: number, key: string) =>
          recorder.record(cli, { op: "get", key }, Effect.orDie(client.get(key)), (value) => ({ value })),
        put: (cli: number, key: string, value: string) =>
          recorder.record(cli, { op: "put", key, value }, Effect.orDie(client.put(key, value)), () => ({})),
        append: (cli: number, key: string, value: string) =>
          recorder.record(cli, { op: "append", key, value }, Effect.orDie(client.append(key, value)), () => ({}))
      }
    })

    /** Acknowledged appends: key -> values (each unique), for "every acknowledged write is present". */
    const acked = new Map<string, Array<string>>()
    /** `n` clients appending unique values (and reading) until `stop` opens. */
    const load = (n: number, keys: number, done: Deferred.Deferred<void>) =>
      Effect.forEach(Array.from({ length: n }, (_, i) => i), (cli) =>
        Effect.gen(function*() {
          const ck = yield* makeClerk
          for (let j = 0; !(yield* Deferred.isDone(done)); j++) {
            const key = `k${yield* Random.nextIntBetween(0, keys)}`
            if ((yield* Random.nextIntBetween(0, 4)) === 0) yield* ck.get(cli, key)
            else {
              const value = `[${cli}.${j}]`
              yield* ck.append(cli, key, value)
              acked.set(key, [...(acked.get(key) ?? []), value])
            }
          }
        }), { concurrency: "unbounded", discard: true })

    /** Every acknowledged append is in `id`'s local state, once it has applied what the leader committed. */
    const checkHasEveryWrite = (id: string) =>
      Effect.gen(function*() {
        const l = yield* awaitLeader()
        const target = (yield* servers.get(l)!.raft.status).commit
        for (let t = 0; t < 20_000; t += 50) {
          if ((yield* servers.get(id)!.kv.replica.local).applied >= target) break
          yield* Effect.sleep("50 millis")
        }
        const local = yield* servers.get(id)!.kv.replica.local
        if (local.applied < target) {
          const st = yield* servers.get(id)!.raft.status
          const ls = yield* servers.get(l)!.raft.status
          return yield* Effect.fail(
            new Failed(
              `${id} applied ${local.applied} of ${target} (${JSON.stringify(st)}; leader ${JSON.stringify(ls)} ${
                JSON.stringify(cores.get(l)?.followers())
              })`
            )
          )
        }
        for (const [key, values] of acked) {
          const v = Kv.get(local.state, key)
          for (const x of values) {
            if (!v.includes(x)) return yield* Effect.fail(new Failed(`${id} lacks acknowledged append ${x} to ${key}`))
          }
        }
      })

    const runBody = <A, E, R>(body: Effect.Effect<A, E, R>) =>
      Effect.raceFirst(body, Deferred.await(fatal)).pipe(
        Effect.zipLeft(Effect.flatMap(Deferred.poll(fatal), (f) => f._tag === "Some" ? f.value : Effect.void))
      )

    // Every end of the mesh exists from the start, so that any node can be cut off at any time.
    for (const id of pool) yield* net.meshTransport(id, pool)
    for (const id of bootstrap) yield* start(id, bootstrap)
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        for (const id of [...servers.keys()]) yield* stop(id)
        yield* net.cleanup
      })
    )

    return {
      net,
      pool,
      bootstrap,
      servers,
      storage,
      start,
      stop,
      wipe,
      isolate,
      leader,
      awaitLeader,
      change,
      load,
      acked,
      checkHasEveryWrite,
      checkLinearizable: recorder.check,
      opCount: recorder.opCount,
      doubleVotes: () => doubleVotes,
      violations,
      resetVotes: () => {
        votes.clear()
        doubleVotes = []
      },
      run: runBody
    }
  })

type Harness = Effect.Effect.Success<ReturnType<typeof makeHarness>>

const membershipTest = (
  name: string,
  options: HarnessOptions,
  body: (h: Harness) => Effect.Effect<void, unknown, TestRun>,
  timeLimit: Duration.DurationInput = "240 seconds"
) =>
  simTest(
    name,
    Effect.gen(function*() {
      const h = yield* makeHarness(options)
      yield* h.run(body(h))
    }),
    { timeLimit, wallTimeoutMs: 240_000 }
  )

const membersOf = (h: Harness, id: string) => Effect.map(h.servers.get(id)!.raft.members, (m) => m)

describe("membership (simulation)", () => {
  membershipTest("replace a dead node: add a fresh learner, promote it, remove the dead one", { pool: 4, initial: 3 }, (h) =>
    Effect.gen(function*() {
      const done = yield* Deferred.make<void>()
      const clients = yield* Effect.fork(h.load(3, 4, done))
      yield* Effect.sleep("2 seconds")
      // n2 dies for good.
      yield* h.wipe("n2")
      yield* Effect.sleep("2 seconds")
      // A fresh, empty node joins as a learner and catches up (snapshots: the log was compacted).
      yield* h.start("n3", [])
      yield* h.change("add n3", (r) => r.addLearner("n3", ""))
      yield* h.change("promote n3", (r) => r.promote("n3"))
      yield* h.change("remove n2", (r) => r.remove("n2"))
      yield* Effect.sleep("3 seconds")
      yield* Deferred.succeed(done, undefined)
      yield* clients.await
      const m = yield* membersOf(h, yield* h.awaitLeader())
      expect(m.members.map((x) => `${x.id}:${x.role}`).sort()).toEqual(["n0:voter", "n1:voter", "n3:voter"])
      expect(m.committed).toBe(true)
      // The cluster served throughout, and the new node has every acknowledged write.
      expect(h.opCount()).toBeGreaterThan(100)
      yield* h.checkHasEveryWrite("n3")
      yield* h.checkLinearizable
    }))

  membershipTest("bad changes are refused with typed errors", { pool: 4, initial: 1 }, (h) =>
    Effect.gen(function*() {
      const l = yield* h.awaitLeader()
      const raft = h.servers.get(l)!.raft
      // Let the leader commit its noop (the errata rule), then try each bad change.
      yield* Effect.sleep("500 millis")
      const err = (e: Effect.Effect<number, Raft.MembershipError | Raft.NotLeader>) => Effect.flip(e)
      expect((yield* err(raft.addLearner("n0", "")))._tag).toBe("AlreadyMember")
      expect((yield* err(raft.promote("n9")))._tag).toBe("UnknownNode")
      expect((yield* err(raft.remove("n9")))._tag).toBe("UnknownNode")
      const last = yield* err(raft.remove("n0"))
      expect(last._tag).toBe("LastVoter")
      expect(last.message).toBe("n0 is the last voter; add and promote another node before removing it")
      // A learner that is not running cannot be promoted: it has not caught up.
      yield* h.change("add n1", (r) => r.addLearner("n1", ""))
      const behind = yield* err(raft.promote("n1"))
      expect(behind._tag).toBe("NotCaughtUp")
      expect((yield* err(raft.addLearner("n1", "")))._tag).toBe("AlreadyMember")
      // Once it runs it catches up and can be promoted; a follower refuses with the leader's name.
      yield* h.start("n1", [])
      yield* h.change("promote n1", (r) => r.promote("n1"))
      const f = h.servers.get("n1")!.raft
      const notLeader = yield* err(f.addLearner("n2", ""))
      expect(notLeader._tag).toBe("NotLeader")
      expect(notLeader.message).toBe("not the leader (try n0)")
    }), "30 seconds")

  membershipTest("grow 3 -> 5 and shrink back under load, removing the leader too", { pool: 6, initial: 3 }, (h) =>
    Effect.gen(function*() {
      const done = yield* Deferred.make<void>()
      const clients = yield* Effect.fork(h.load(3, 3, done))
      for (const id of ["n3", "n4"]) {
        yield* h.start(id, [])
        yield* h.change(`add ${id}`, (r) => r.addLearner(id, ""))
        yield* h.change(`promote ${id}`, (r) => r.promote(id))
      }
      const l = yield* h.awaitLeader()
      expect((yield* membersOf(h, l)).members.filter((m) => m.role === "voter")).toHaveLength(5)
      // Remove the leader itself, then another voter.
      yield* h.change(`remove ${l}`, (r) => r.remove(l))
      const l2 = yield* h.awaitLeader()
      expect(l2).not.toBe(l)
      const other = (yield* membersOf(h, l2)).members.find((m) => m.id !== l2 && m.role === "voter")!.id
      yield* h.change(`remove ${other}`, (r) => r.remove(other))
      yield* Effect.sleep("2 seconds")
      yield* Deferred.succeed(done, undefined)
      yield* clients.await
      const m = yield* membersOf(h, yield* h.awaitLeader())
      expect(m.members.filter((x) => x.role === "voter")).toHaveLength(3)
      for (const x of m.members) yield* h.checkHasEveryWrite(x.id)
      yield* h.checkLinearizable
    }))

  membershipTest("random membership changes under partitions, crashes and an unreliable network", { pool: 7, initial: 3 }, (h) =>
    Effect.gen(function*() {
      const done = yield* Deferred.make<void>()
      const clients = yield* Effect.fork(h.load(3, 3, done))
      /** Nodes out of service now (crashed or cut off): at most one at a time. */
      let down: { id: string; how: "crash" | "cut" } | undefined
      const removed = new Set<string>()
      const heal = Effect.gen(function*() {
        if (down === undefined) return
        if (down.how === "crash") yield* h.start(down.id, h.bootstrap.includes(down.id) ? h.bootstrap : [])
        else yield* h.isolate(down.id, false)
        down = undefined
      })
      for (let round = 0; round < 25; round++) {
        yield* Effect.sleep(`${yield* Random.nextIntBetween(300, 1500)} millis`)
        const l = yield* h.leader
        if (l === undefined) {
          yield* heal
          continue
        }
        const m = yield* membersOf(h, l)
        const voters = m.members.filter((x) => x.role === "voter").map((x) => x.id)
        const learners = m.members.filter((x) => x.role === "learner").map((x) => x.id)
        const healthy = voters.filter((v) => h.servers.has(v) && v !== down?.id)
        const majority = (n: number) => Math.floor(n / 2) + 1
        const choice = yield* Random.nextIntBetween(0, 8)
        const pick = <A>(xs: ReadonlyArray<A>) => Effect.map(Random.nextIntBetween(0, xs.length), (i) => xs[i]!)
        const attempt = (what: string, f: (r: Raft.RaftShape) => Effect.Effect<number, Raft.MembershipError | Raft.NotLeader>) => {
          const s = h.servers.get(l)
          return s === undefined
            ? Effect.void
            : Effect.either(Effect.timeout(f(s.raft), "3 seconds")).pipe(Effect.asVoid, Effect.withSpan(what))
        }
        if (choice === 0 && down === undefined) {
          // A fault on a random running member: crash it, or cut it off.
          const id = yield* pick([...h.servers.keys()].filter((s) => !removed.has(s)))
          if (healthy.filter((v) => v !== id).length >= majority(voters.length)) {
            down = { id, how: (yield* Random.nextBoolean) ? "crash" : "cut" }
            if (down.how === "crash") yield* h.stop(id)
            else yield* h.isolate(id, true)
          }
        } else if (choice === 1) {
          yield* heal
        } else if (choice === 2) {
          yield* h.net.setReliable(yield* Random.nextBoolean)
        } else if (choice <= 4 && learners.length === 0 && voters.length < 5) {
          // Add a fresh node (never used, or removed before: it comes back with an empty disk).
          const free = h.pool.filter((p) => !m.members.some((x) => x.id === p) && !h.servers.has(p))
          if (free.length > 0) {
            const id = yield* pick(free)
            yield* h.wipe(id)
            removed.delete(id)
            yield* h.start(id, [])
            yield* attempt(`add ${id}`, (r) => r.addLearner(id, ""))
          }
        } else if (choice <= 5 && learners.length > 0) {
          const id = learners[0]!
          // Promoting keeps a majority of healthy voters only if the learner is healthy.
          if (h.servers.has(id) && id !== down?.id && healthy.length + 1 >= majority(voters.length + 1)) {
            yield* attempt(`promote ${id}`, (r) => r.promote(id))
          }
        } else if (choice <= 7 && voters.length > 3) {
          const id = yield* pick(voters)
          const remaining = healthy.filter((v) => v !== id)
          if (remaining.length >= majority(voters.length - 1)) yield* attempt(`remove ${id}`, (r) => r.remove(id))
        }
        // Removed members, once their removal is committed, are shut down for good.
        const current = yield* h.leader
        const now = current === undefined ? undefined : yield* membersOf(h, current)
        if (now?.committed === true) {
          for (const id of [...h.servers.keys()]) {
            if (!now.members.some((x) => x.id === id) && id !== down?.id) {
              removed.add(id)
              yield* h.wipe(id)
            }
          }
        }
      }
      yield* heal
      yield* h.net.setReliable(true)
      yield* Effect.sleep("3 seconds")
      yield* Deferred.succeed(done, undefined)
      yield* clients.await
      const l = yield* h.awaitLeader()
      const m = yield* membersOf(h, l)
      expect(m.members.filter((x) => x.role === "voter").length).toBeGreaterThanOrEqual(3)
      for (const x of m.members) if (h.servers.has(x.id)) yield* h.checkHasEveryWrite(x.id)
      yield* h.checkLinearizable
    }))
})

describe("amnesia (simulation)", () => {
  /**
   * Three voters; n2 votes for n1 in some term while n0 is cut off, then loses its disk; it comes back
   * and n0, with the same term, asks for its vote. The unsafe restart (bootstrapping again from the
   * peers list) grants it: a second vote in one term. The safe one (joining) refuses.
   */
  const scenario = (h: Harness, safe: boolean) =>
    Effect.gen(function*() {
      const l = yield* h.awaitLeader()
      yield* Effect.sleep("1 second")
      h.resetVotes()
      // Force elections with n2 as the deciding vote, restarting it empty each time (at most 10 rounds).
      for (let round = 0; round < 10 && h.doubleVotes().length === 0; round++) {
        const leaderNow = (yield* h.leader) ?? l
        const others = h.bootstrap.filter((x) => x !== "n2" && x !== leaderNow)
        // Cut the leader off: n2 and the other node elect a new one; n2 votes.
        yield* h.isolate(leaderNow, true)
        yield* Effect.sleep("2 seconds")
        // n2 loses its disk and comes back; the old leader returns; a new election follows.
        yield* h.wipe("n2")
        yield* h.start("n2", safe ? [] : h.bootstrap)
        yield* h.isolate(leaderNow, false)
        if (others[0] !== undefined) yield* h.isolate(others[0], true)
        yield* Effect.sleep("2 seconds")
        if (others[0] !== undefined) yield* h.isolate(others[0], false)
        yield* Effect.sleep("1 second")
      }
    })

  membershipTest(
    "negative control: a voter restarted empty as a bootstrap node votes twice in a term",
    { pool: 3, initial: 3, strict: false },
    (h) =>
      Effect.gen(function*() {
        yield* scenario(h, false)
        expect(h.doubleVotes().length, "the unsafe restart should have double-voted").toBeGreaterThan(0)
      }),
    "120 seconds"
  )

  membershipTest("a voter restarted empty as a joining node refuses to vote until re-admitted", { pool: 3, initial: 3 }, (h) =>
    Effect.gen(function*() {
      yield* scenario(h, true)
      expect(h.doubleVotes()).toEqual([])
      const n2 = yield* h.servers.get("n2")!.raft.members
      expect(n2.rejoining).toBe(true)
      // Re-admission: remove it, add it back as a learner, promote it; it votes again.
      yield* h.change("remove n2", (r) => r.remove("n2"))
      yield* h.change("add n2", (r) => r.addLearner("n2", ""))
      yield* h.change("promote n2", (r) => r.promote("n2"))
      for (let t = 0; t < 50 && (yield* h.servers.get("n2")!.raft.members).rejoining; t++) yield* Effect.sleep("100 millis")
      expect((yield* h.servers.get("n2")!.raft.members).rejoining).toBe(false)
      expect(h.doubleVotes()).toEqual([])
    }), "120 seconds")
})
