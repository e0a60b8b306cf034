/**
 * The 6.824 Raft test harness (SPEC-6824 §2.2) in Effect, on a SimNetwork inside a Simulation.
 *
 * Same model as the Go `config`: N nodes with random 20-character end names, memory storage that a
 * restarted node receives a copy of, connect/disconnect of both directions, crash/restart, the
 * per-apply checks of `applier` / `applierSnap`, and the helpers `checkOneLeader`, `checkTerms`,
 * `checkNoLeader`, `nCommitted`, `wait`, `one`. Commands are numbers or strings, packed as the entry
 * data.
 *
 * Beyond the original, safety invariants are checked continuously and fail the test at once:
 * - election safety: at most one leader per term, ever (checked after every step of every node);
 * - leader completeness: a new leader's log holds every entry already committed (at each election);
 * - log matching: two persisted entries with the same index and term carry the same data and follow
 *   the same previous term (checked at every storage append of every node);
 * - state machine safety: no two nodes apply different commands at an index (the applier check).
 */
import { Clock, Deferred, Effect, Exit, Layer, Random, Scope, Stream } from "effect"
import * as Codec from "../../src/codec/Codec.js"
import * as SimNetwork from "../../src/rpc/SimNetwork.js"
import { Transport } from "../../src/rpc/Transport.js"
import type { RaftCore } from "../../src/raft/core/RaftCore.js"
import * as Raft from "../../src/raft/Raft.js"
import * as RaftConfig from "../../src/raft/RaftConfig.js"
import * as LogStorage from "../../src/raft/LogStorage.js"
import * as MemoryStorage from "../../src/storage/MemoryStorage.js"
import { connectEnds } from "./names.js"
import { simTest } from "./simTest.js"

/** The tester's election-timeout constant (SPEC §2: ET). */
export const ET = 1000

export type Command = number | string

/** What the harness records for a leader's empty entry (only with `leaderNoop`, off in the 6.824 tests). */
export const NOOP = "<noop>"

export const encodeCommand = (c: Command): Uint8Array => Codec.pack(c)
const decodeCommand = (data: Uint8Array): Command => {
  const v = Codec.unpack(data)
  if (v._tag === "Left" || (typeof v.right !== "number" && typeof v.right !== "string")) {
    throw new Error("undecodable command")
  }
  return v.right
}

interface Node {
  readonly raft: Raft.RaftShape
  readonly scope: Scope.CloseableScope
}

/** Fails the whole test at once (an apply error or a violated invariant). */
export class Fatal extends Error {
  override readonly name = "Fatal"
}

export interface Options {
  readonly n: number
  readonly unreliable?: boolean
  readonly snapshot?: boolean
  /** Overrides of the Raft configuration used by every node. */
  readonly raft?: Partial<Omit<RaftConfig.RaftConfig, "id" | "peers">>
  /** Simulated latency of each storage write of node i (for pipelining tests). Default none. */
  readonly storageLatencyMs?: (i: number) => number
}

/** The Raft configuration the 6.824 tests run with (see RaftConfig.leaderNoop for why no noop). */
export const testRaftConfig: Partial<Omit<RaftConfig.RaftConfig, "id" | "peers">> = {
  electionTimeoutMs: 300,
  heartbeatIntervalMs: 100,
  leaderNoop: false
}

export const make = (options: Options) =>
  Effect.gen(function*() {
    const n = options.n
    const net = yield* SimNetwork.make()
    const fatal = yield* Deferred.make<never, Fatal>()
    const ids = Array.from({ length: n }, (_, i) => String(i))
    const nodes: Array<Node | undefined> = Array.from({ length: n }, () => undefined)
    const saved: Array<MemoryStorage.MemoryStorage | undefined> = Array.from({ length: n }, () => undefined)
    const connected: Array<boolean> = Array.from({ length: n }, () => false)
    const endnames: Array<Array<string>> = Array.from({ length: n }, () => [])
    const logs: Array<Map<number, Command>> = Array.from({ length: n }, () => new Map())
    const lastApplied: Array<number> = Array.from({ length: n }, () => 0)
    let maxIndex = 0
    let maxIndex0 = 0
    let t0 = yield* Clock.currentTimeMillis
    let rpcs0 = 0
    let bytes0 = 0

    const die = (message: string) => {
      Deferred.unsafeDone(fatal, Exit.fail(new Fatal(message)))
    }

    // -- continuous invariants ------------------------------------------------------------------
    /** Requests sent, by tag (AppendEntries, Heartbeat, ...), across all nodes. */
    const sent = new Map<string, number>()
    /** Storage writes (append calls) per node. */
    const storageWrites: Array<number> = Array.from({ length: n }, () => 0)
    /** The latest core of each node, for tests that inspect protocol state. */
    const cores: Array<RaftCore | undefined> = Array.from({ length: n }, () => undefined)
    const leaderOfTerm = new Map<number, string>()
    const wasLeader = new Map<string, number>()
    const entryAt = new Map<string, { data: Uint8Array; prevTerm: number | undefined }>()

    const observer = Layer.succeed(Raft.RaftObserver, {
      observe: (core: RaftCore) => {
        cores[Number(core.config.id)] = core
        const s = core.status()
        if (s.role !== "Leader") return
        const other = leaderOfTerm.get(s.term)
        if (other !== undefined && other !== s.id) die(`election safety: term ${s.term} has two leaders, ${other} and ${s.id}`)
        leaderOfTerm.set(s.term, s.id)
        if (wasLeader.get(s.id) === s.term) return
        wasLeader.set(s.id, s.term)
        // Leader completeness: every index some node applied must be in this leader's log, unchanged.
        for (let index = core.log.snapshotIndex + 1; index <= maxIndex; index++) {
          let committed: Command | undefined
          for (const l of logs) {
            if (l.has(index)) committed = l.get(index)
          }
          if (committed === undefined) continue
          const e = core.log.entry(index)
          if (e === undefined || (e.kind !== 0 ? NOOP : decodeCommand(e.data)) !== committed) {
            die(`leader completeness: leader ${s.id} of term ${s.term} lacks committed index ${index} (${committed})`)
            return
          }
        }
      }
    })

    const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i])

    /** A memory storage whose appends are checked for log matching across all nodes. */
    const checked = (inner: MemoryStorage.MemoryStorage, node: string): LogStorage.LogStorageShape => ({
      ...inner,
      append: (entries, hardState) =>
        Effect.suspend(() => {
          storageWrites[Number(node)]!++
          for (let k = 0; k < entries.length; k++) {
            const e = entries[k]!
            const prevTerm = k > 0 ? entries[k - 1]!.term : undefined
            const key = `${e.index}:${e.term}`
            const seen = entryAt.get(key)
            if (seen === undefined) entryAt.set(key, { data: e.data, prevTerm })
            else if (!sameBytes(seen.data, e.data)) die(`log matching: node ${node} stores a different entry at ${key}`)
            else if (prevTerm !== undefined && seen.prevTerm !== undefined && seen.prevTerm !== prevTerm) {
              die(`log matching: node ${node} stores ${key} after term ${prevTerm}, another node after ${seen.prevTerm}`)
            } else if (seen.prevTerm === undefined && prevTerm !== undefined) seen.prevTerm = prevTerm
          }
          const latency = options.storageLatencyMs?.(Number(node)) ?? 0
          return latency > 0
            ? Effect.zipRight(Effect.sleep(`${latency} millis`), inner.append(entries, hardState))
            : inner.append(entries, hardState)
        })
    })

    /** Counts requests by tag on their way out. */
    const counted = (t: Transport["Type"]): Transport["Type"] => ({
      ...t,
      call: (to, request, callOptions) => {
        const tag = (request as { readonly _tag: string })._tag
        sent.set(tag, (sent.get(tag) ?? 0) + 1)
        return t.call(to, request, callOptions)
      }
    })

    // -- the applier checks ---------------------------------------------------------------------
    const checkLogs = (i: number, index: number, v: Command): string | undefined => {
      for (let j = 0; j < n; j++) {
        const old = logs[j]!.get(index)
        if (old !== undefined && old !== v) {
          return `commit index=${index} server=${i} ${v} != server=${j} ${old}`
        }
      }
      const prevOk = logs[i]!.has(index - 1)
      logs[i]!.set(index, v)
      if (index > maxIndex) maxIndex = index
      if (index > 1 && !prevOk) return `server ${i} apply out of order ${index}`
      return undefined
    }

    const applier = (i: number, raft: Raft.RaftShape, snapshotMode: boolean) =>
      Stream.runForEach(raft.applied, (msg) =>
        Effect.suspend(() => {
          if (msg._tag === "Noop" || msg._tag === "Membership") {
            // Recorded like a command so that index order and cross-node agreement are still checked.
            const err = checkLogs(i, msg.index, NOOP)
            if (err !== undefined) return Effect.sync(() => die(err))
            lastApplied[i] = msg.index
            return Effect.void
          }
          if (msg._tag === "Snapshot") {
            if (!snapshotMode) return Effect.sync(() => die(`server ${i}: unexpected snapshot in a non-snapshot test`))
            const { index, log } = decodeSnapshot(msg.data)
            if (index !== msg.index) return Effect.sync(() => die(`server ${i} snapshot index ${index} != ${msg.index}`))
            logs[i] = new Map(log.map((v, k) => [k, v] as const).filter(([k]) => k > 0))
            lastApplied[i] = msg.index
            return Effect.void
          }
          const v = decodeCommand(msg.data)
          if (snapshotMode && msg.index !== lastApplied[i]! + 1) {
            return Effect.sync(() => die(`server ${i} apply out of order, expected index ${lastApplied[i]! + 1}, got ${msg.index}`))
          }
          const err = checkLogs(i, msg.index, v)
          if (err !== undefined) return Effect.sync(() => die(err))
          lastApplied[i] = msg.index
          if (snapshotMode && (msg.index + 1) % 10 === 0) {
            const log: Array<Command | null> = [null]
            for (let j = 1; j <= msg.index; j++) log.push(logs[i]!.get(j) ?? null)
            return raft.snapshot(msg.index, encodeSnapshot(msg.index, log))
          }
          return Effect.void
        }))

    const encodeSnapshot = (index: number, log: ReadonlyArray<Command | null>) => Codec.pack({ index, log })
    const decodeSnapshot = (data: Uint8Array) => {
      const v = Codec.unpack(data)
      if (v._tag === "Left") throw new Error("undecodable snapshot")
      return v.right as { index: number; log: Array<Command> }
    }

    // -- lifecycle ------------------------------------------------------------------------------
    const crash1 = (i: number) =>
      Effect.gen(function*() {
        yield* disconnect(i)
        yield* net.deleteServer(ids[i]!)
        const node = nodes[i]
        nodes[i] = undefined
        if (node !== undefined) yield* Scope.close(node.scope, Exit.void)
        // A fresh persister with the same contents, as the original does.
        if (saved[i] !== undefined) saved[i] = yield* saved[i]!.copy
      })


    const start1 = (i: number, snapshotMode = options.snapshot === true) =>
      Effect.gen(function*() {
        yield* crash1(i)
        const { ends, names } = yield* connectEnds(net, ids)
        endnames[i] = names
        lastApplied[i] = 0
        const storage = saved[i] ?? (yield* MemoryStorage.make)
        saved[i] = storage
        const snap = yield* storage.snapshot
        if (snap !== undefined && snap.data.length > 0) {
          const { index, log } = decodeSnapshot(snap.data)
          if (index !== snap.index) yield* Effect.sync(() => die(`server ${i} snapshot index mismatch on start`))
          logs[i] = new Map(log.map((v, k) => [k, v] as const).filter(([k]) => k > 0))
          lastApplied[i] = index
        }
        const scope = yield* Scope.make()
        const config = RaftConfig.make({ id: ids[i]!, peers: ids, ...testRaftConfig, ...options.raft })
        const raft = yield* Raft.make(config).pipe(
          Effect.provideService(Transport, counted(net.transport({ self: ids[i]!, ends }))),
          Effect.provideService(LogStorage.LogStorage, checked(storage, ids[i]!)),
          Effect.provide(observer),
          Scope.extend(scope),
          Effect.orDie
        )
        yield* Effect.forkIn(applier(i, raft, snapshotMode), scope)
        nodes[i] = { raft, scope }
      })

    const connect = (i: number) =>
      Effect.gen(function*() {
        connected[i] = true
        for (let j = 0; j < n; j++) {
          if (connected[j]) {
            yield* net.enable(endnames[i]![j]!, true)
            yield* net.enable(endnames[j]![i]!, true)
          }
        }
      })

    const disconnect = (i: number) =>
      Effect.gen(function*() {
        connected[i] = false
        for (let j = 0; j < n; j++) {
          if (endnames[i]![j] !== undefined) yield* net.enable(endnames[i]![j]!, false)
          if (endnames[j]![i] !== undefined) yield* net.enable(endnames[j]![i]!, false)
        }
      })

    // -- checks ---------------------------------------------------------------------------------
    const fail = (message: string) => Effect.fail(new Fatal(message))

    const getState = (i: number) =>
      Effect.map(nodes[i]!.raft.status, (s) => ({ term: s.term, isLeader: s.role === "Leader" }))

    const start = (i: number, cmd: Command) =>
      Effect.gen(function*() {
        const node = nodes[i]
        if (node === undefined) return { index: -1, term: -1, ok: false }
        const r = yield* Effect.either(node.raft.propose(encodeCommand(cmd)))
        if (r._tag === "Right") return { index: r.right.index, term: r.right.term, ok: true }
        const s = yield* node.raft.status
        return { index: -1, term: s.term, ok: false }
      })

    const checkOneLeader = Effect.gen(function*() {
      for (let iters = 0; iters < 10; iters++) {
        yield* Effect.sleep(`${450 + (yield* Random.nextIntBetween(0, 100))} millis`)
        const leaders = new Map<number, Array<number>>()
        for (let i = 0; i < n; i++) {
          if (connected[i] && nodes[i] !== undefined) {
            const { isLeader, term } = yield* getState(i)
            if (isLeader) leaders.set(term, [...(leaders.get(term) ?? []), i])
          }
        }
        let lastTermWithLeader = -1
        for (const [term, ls] of leaders) {
          if (ls.length > 1) return yield* fail(`term ${term} has ${ls.length} (>1) leaders`)
          if (term > lastTermWithLeader) lastTermWithLeader = term
        }
        if (leaders.size !== 0) return leaders.get(lastTermWithLeader)![0]!
      }
      return yield* fail("expected one leader, got none")
    })

    const checkTerms = Effect.gen(function*() {
      let term = -1
      for (let i = 0; i < n; i++) {
        if (connected[i] && nodes[i] !== undefined) {
          const t = (yield* getState(i)).term
          if (term === -1) term = t
          else if (term !== t) return yield* fail("servers disagree on term")
        }
      }
      return term
    })

    const checkNoLeader = Effect.gen(function*() {
      for (let i = 0; i < n; i++) {
        if (connected[i] && nodes[i] !== undefined && (yield* getState(i)).isLeader) {
          return yield* fail(`expected no leader among connected servers, but ${i} claims to be leader`)
        }
      }
    })

    const nCommitted = (index: number) =>
      Effect.gen(function*() {
        let count = 0
        let cmd: Command | undefined
        for (let i = 0; i < n; i++) {
          const v = logs[i]!.get(index)
          if (v !== undefined) {
            if (count > 0 && cmd !== v) return yield* fail(`committed values do not match: index ${index}, ${cmd}, ${v}`)
            count++
            cmd = v
          }
        }
        return [count, cmd] as const
      })

    const wait = (index: number, want: number, startTerm: number) =>
      Effect.gen(function*() {
        let to = 10
        for (let iters = 0; iters < 30; iters++) {
          const [nd] = yield* nCommitted(index)
          if (nd >= want) break
          yield* Effect.sleep(`${to} millis`)
          if (to < 1000) to *= 2
          if (startTerm > -1) {
            for (let i = 0; i < n; i++) {
              if (nodes[i] !== undefined && (yield* getState(i)).term > startTerm) return -1 as Command
            }
          }
        }
        const [nd, cmd] = yield* nCommitted(index)
        if (nd < want) return yield* fail(`only ${nd} decided for index ${index}; wanted ${want}`)
        return cmd!
      })

    const one = (cmd: Command, expectedServers: number, retry: boolean) =>
      Effect.gen(function*() {
        const t0 = yield* Clock.currentTimeMillis
        let starts = 0
        while ((yield* Clock.currentTimeMillis) - t0 < 10_000) {
          let index = -1
          for (let si = 0; si < n; si++) {
            starts = (starts + 1) % n
            if (connected[starts] && nodes[starts] !== undefined) {
              const r = yield* start(starts, cmd)
              if (r.ok) {
                index = r.index
                break
              }
            }
          }
          if (index !== -1) {
            const t1 = yield* Clock.currentTimeMillis
            while ((yield* Clock.currentTimeMillis) - t1 < 2_000) {
              const [nd, cmd1] = yield* nCommitted(index)
              if (nd > 0 && nd >= expectedServers && cmd1 === cmd) return index
              yield* Effect.sleep("20 millis")
            }
            if (!retry) return yield* fail(`one(${cmd}) failed to reach agreement`)
          } else {
            yield* Effect.sleep("50 millis")
          }
        }
        return yield* fail(`one(${cmd}) failed to reach agreement`)
      })

    const rpcCount = (i: number) => net.count(ids[i]!)
    const rpcTotal = Effect.gen(function*() {
      let total = 0
      for (let i = 0; i < n; i++) total += yield* rpcCount(i)
      return total
    })

    const logSize = Effect.gen(function*() {
      let max = 0
      for (const s of saved) if (s !== undefined) max = Math.max(max, (yield* s.sizes).logBytes)
      return max
    })

    /** Marks the start of a measured phase (the Go `begin`): time, RPCs, bytes, commits. */
    const begin = Effect.gen(function*() {
      t0 = yield* Clock.currentTimeMillis
      rpcs0 = yield* rpcTotal
      bytes0 = yield* net.totalBytes
      maxIndex0 = maxIndex
    })

    /** What `end()` prints in Go, returned for assertions and logging. */
    const end = Effect.gen(function*() {
      return {
        simulatedMs: (yield* Clock.currentTimeMillis) - t0,
        rpcs: (yield* rpcTotal) - rpcs0,
        bytes: (yield* net.totalBytes) - bytes0,
        commits: maxIndex - maxIndex0
      }
    })

    for (let i = 0; i < n; i++) yield* start1(i)
    for (let i = 0; i < n; i++) yield* connect(i)
    yield* net.setReliable(options.unreliable !== true)
    yield* net.setLongDelays(true)

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        for (let i = 0; i < n; i++) {
          const node = nodes[i]
          nodes[i] = undefined
          if (node !== undefined) yield* Scope.close(node.scope, Exit.void)
        }
        yield* net.cleanup
      })
    )

    /** Runs a test body; an apply error or violated invariant fails it at once. */
    const run = <A, E, R>(body: Effect.Effect<A, E, R>) =>
      Effect.raceFirst(body, Deferred.await(fatal)).pipe(
        Effect.zipLeft(Effect.flatMap(Deferred.poll(fatal), (failed) => failed._tag === "Some" ? failed.value : Effect.void))
      )

    return {
      n,
      net,
      nodes,
      saved,
      connected,
      logs,
      start1,
      crash1,
      connect,
      disconnect,
      getState,
      start,
      checkOneLeader,
      checkTerms,
      checkNoLeader,
      nCommitted,
      wait,
      one,
      rpcCount,
      rpcTotal,
      logSize,
      begin,
      end,
      run,
      setReliable: net.setReliable,
      setLongReordering: net.setLongReordering,
      maxIndex: () => maxIndex,
      sent,
      storageWrites,
      cores
    }
  })

export type Harness = Effect.Effect.Success<ReturnType<typeof make>>

/** A 6.824 Raft test: a seeded simulation with a fresh harness; fatal errors fail it at once. */
export const raftTest = (
  name: string,
  options: Options,
  body: (cfg: Harness) => Effect.Effect<void, unknown>,
  simTestOptions?: import("./simTest.js").SimTestOptions
) =>
  simTest(
    name,
    Effect.gen(function*() {
      const cfg = yield* make(options)
      yield* cfg.run(body(cfg))
    }),
    simTestOptions
  )
