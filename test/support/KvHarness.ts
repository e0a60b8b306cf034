/**
 * The 6.824 kvraft harness (SPEC-6824 §3.2) in Effect, on a SimNetwork inside a Simulation.
 *
 * N servers, each a Raft node and a KvServer on one simulated server (as the Go harness registers
 * "KVServer" and "Raft" on one labrpc server); memory storage that a restarted server receives a copy
 * of; clerks with their own ends to every server, enabled selectively; `partition`, `makePartition`,
 * `shutdownServer` / `startServer`, `connectAll`; `logSize` / `snapshotSize`. Long delays are off
 * (a failed RPC returns within 0–99 ms), as in the original.
 *
 * Every clerk operation is recorded into a history and `checkLinearizable` runs the linearizability
 * checker on it: `Unknown` (budget exhausted) fails the test here, and a failure writes the HTML view
 * of the history under test-output/ and names the file.
 */
import { Effect, Exit, Random, Scope } from "effect"
import * as KvClient from "../../src/kv/KvClient.js"
import * as KvServer from "../../src/kv/KvServer.js"
import * as Raft from "../../src/raft/Raft.js"
import * as RaftConfig from "../../src/raft/RaftConfig.js"
import * as SimNetwork from "../../src/rpc/SimNetwork.js"
import { Transport } from "../../src/rpc/Transport.js"
import * as LogStorage from "../../src/raft/LogStorage.js"
import * as MemoryStorage from "../../src/storage/MemoryStorage.js"
import { connectEnds, randomName } from "./names.js"
import { makeRecorder } from "./Recorder.js"
import { simTest, type SimTestOptions, TestRun } from "./simTest.js"

/** The tester's election-timeout constant (SPEC §3.2). */
export const ET = 1000

/**
 * Per-message delivery latency of the simulated network, in ms (one way). An operation then takes
 * ~4 deliveries, ~12 ms: the order of the original's sample runs (Concurrent3A: 3 296 operations in
 * 15.9 s under -race), so histories have comparable sizes. With no latency an operation would take no
 * simulated time at all.
 */
export const LATENCY_MS = [1, 5] as const

export interface Options {
  readonly n: number
  readonly unreliable: boolean
  readonly maxraftstate: number
  readonly getMode?: "readIndex" | "log"
  readonly raft?: Partial<Omit<RaftConfig.RaftConfig, "id" | "peers">>
}

/** A clerk whose operations are recorded (the Go harness's Get/Put/Append wrappers). */
export interface Clerk {
  readonly name: string
  readonly get: (key: string, cli?: number) => Effect.Effect<string>
  readonly put: (key: string, value: string, cli?: number) => Effect.Effect<void>
  readonly append: (key: string, value: string, cli?: number) => Effect.Effect<void>
}

interface Server {
  readonly scope: Scope.CloseableScope
  readonly raft: Raft.RaftShape
  readonly kv: KvServer.KvServerShape
}

export { Failed } from "./Recorder.js"

export const make = (options: Options) =>
  Effect.gen(function*() {
    const { n } = options
    const run = yield* TestRun
    const net = yield* SimNetwork.make()
    yield* net.setReliable(!options.unreliable)
    // labrpc delivers at once; in Go, execution time makes an operation take a few ms. Model that, or
    // clients would loop without simulated time passing (see SimNetwork.setLatency).
    yield* net.setLatency(LATENCY_MS[0], LATENCY_MS[1])
    const ids = Array.from({ length: n }, (_, i) => String(i))
    const servers: Array<Server | undefined> = Array.from({ length: n }, () => undefined)
    const saved: Array<MemoryStorage.MemoryStorage | undefined> = Array.from({ length: n }, () => undefined)
    const endnames: Array<Array<string>> = Array.from({ length: n }, () => [])
    const clerkEnds = new Map<string, Array<string>>()
    const recorder = makeRecorder(run, "kv")
    const { history, record: recordAs } = recorder
    let clerkCount = 0

    const startServer = (i: number) =>
      Effect.gen(function*() {
        const { ends, names } = yield* connectEnds(net, ids)
        endnames[i] = names
        const storage = saved[i] ?? (yield* MemoryStorage.make)
        saved[i] = storage
        const scope = yield* Scope.make()
        const config = RaftConfig.make({ id: ids[i]!, peers: ids, electionTimeoutMs: 300, heartbeatIntervalMs: 100, ...options.raft })
        const server = yield* Effect.gen(function*() {
          const raft = yield* Raft.make(config)
          const kv = yield* KvServer.make({ maxRaftState: options.maxraftstate, getMode: options.getMode ?? "readIndex" }).pipe(
            Effect.provideService(Raft.Raft, raft)
          )
          return { raft, kv, scope }
        }).pipe(
          Effect.provideService(Transport, net.transport({ self: ids[i]!, ends })),
          Effect.provideService(LogStorage.LogStorage, storage),
          Scope.extend(scope),
          Effect.orDie
        )
        servers[i] = server
      })

    const connect = (i: number, to: ReadonlyArray<number>) =>
      Effect.forEach(to, (j) =>
        Effect.gen(function*() {
          if (endnames[i]![j] !== undefined) yield* net.enable(endnames[i]![j]!, true)
          if (endnames[j]![i] !== undefined) yield* net.enable(endnames[j]![i]!, true)
        }), { discard: true })
    const disconnect = (i: number, from: ReadonlyArray<number>) =>
      Effect.forEach(from, (j) =>
        Effect.gen(function*() {
          if (endnames[i]![j] !== undefined) yield* net.enable(endnames[i]![j]!, false)
          if (endnames[j]![i] !== undefined) yield* net.enable(endnames[j]![i]!, false)
        }), { discard: true })
    const all = ids.map((_, i) => i)
    const connectAll = Effect.forEach(all, (i) => connect(i, all), { discard: true })
    /** Servers in p1 talk only to p1, those in p2 only to p2. Clerk ends are left alone. */
    const partition = (p1: ReadonlyArray<number>, p2: ReadonlyArray<number>) =>
      Effect.gen(function*() {
        for (const i of p1) {
          yield* disconnect(i, p2)
          yield* connect(i, p1)
        }
        for (const i of p2) {
          yield* disconnect(i, p1)
          yield* connect(i, p2)
        }
      })

    const shutdownServer = (i: number) =>
      Effect.gen(function*() {
        yield* disconnect(i, all)
        yield* net.deleteServer(ids[i]!)
        if (saved[i] !== undefined) saved[i] = yield* saved[i]!.copy
        const server = servers[i]
        servers[i] = undefined
        if (server !== undefined) yield* Scope.close(server.scope, Exit.void)
      })

    const leader = Effect.gen(function*() {
      for (let i = 0; i < n; i++) {
        const s = servers[i]
        if (s !== undefined && (yield* s.raft.status).role === "Leader") return i
      }
      return -1
    })

    /** The current leader (or 0) in the minority p2 of size ⌊n/2⌋; p1 has ⌊n/2⌋+1. */
    const makePartition = Effect.gen(function*() {
      const found = yield* leader
      const l = found === -1 ? 0 : found
      const p1: Array<number> = []
      const p2: Array<number> = []
      for (let i = 0; i < n; i++) {
        if (i === l) continue
        if (p1.length < Math.floor(n / 2) + 1) p1.push(i)
        else p2.push(i)
      }
      p2.push(l)
      return [p1, p2] as const
    })

    /** A clerk with ends to every server, enabled only for `to`, servers in a random order. */
    const makeClient = (to: ReadonlyArray<number>) =>
      Effect.gen(function*() {
        const name = `clerk-${clerkCount++}`
        const ends: Array<string> = []
        const map: Record<string, string> = {}
        for (let j = 0; j < n; j++) {
          const end = yield* randomName
          ends.push(end)
          yield* net.makeEnd(end)
          yield* net.connect(end, ids[j]!)
          yield* net.enable(end, to.includes(j))
          map[ids[j]!] = end
        }
        clerkEnds.set(name, ends)
        const order = [...ids]
        for (let k = order.length - 1; k > 0; k--) {
          const r = yield* Random.nextIntBetween(0, k + 1)
          ;[order[k], order[r]] = [order[r]!, order[k]!]
        }
        const client = yield* KvClient.make({ servers: order }).pipe(
          Effect.provideService(Transport, net.transport({ self: name, ends: map }))
        )
        const record = recordAs
        const clerk: Clerk = {
          name,
          // No deadline is given, so these retry forever and never fail.
          get: (key, cli = 0) => record(cli, { op: "get", key }, Effect.orDie(client.get(key)), (value) => ({ value })),
          put: (key, value, cli = 0) => record(cli, { op: "put", key, value }, Effect.orDie(client.put(key, value)), () => ({})),
          append: (key, value, cli = 0) =>
            record(cli, { op: "append", key, value }, Effect.orDie(client.append(key, value)), () => ({}))
        }
        return clerk
      })

    const setClientEnds = (ck: Clerk, to: ReadonlyArray<number>, enabled: boolean) =>
      Effect.forEach(to, (j) => net.enable(clerkEnds.get(ck.name)![j]!, enabled), { discard: true })

    const logSize = Effect.gen(function*() {
      let max = 0
      for (const s of saved) if (s !== undefined) max = Math.max(max, (yield* s.sizes).logBytes)
      return max
    })
    const snapshotSize = Effect.gen(function*() {
      let max = 0
      for (const s of saved) if (s !== undefined) max = Math.max(max, (yield* s.sizes).snapshotBytes)
      return max
    })

    for (let i = 0; i < n; i++) yield* startServer(i)
    yield* connectAll

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        for (const s of servers) if (s !== undefined) yield* Scope.close(s.scope, Exit.void)
        yield* net.cleanup
      })
    )

    return {
      n,
      net,
      servers,
      all,
      startServer,
      shutdownServer,
      connect,
      disconnect,
      connectAll,
      partition,
      makePartition,
      makeClient,
      /** The name of clerk `ck`'s end to server `i`. */
      clerkEnd: (ck: Clerk, i: number) => clerkEnds.get(ck.name)![i]!,
      connectClient: (ck: Clerk, to: ReadonlyArray<number>) => setClientEnds(ck, to, true),
      disconnectClient: (ck: Clerk, from: ReadonlyArray<number>) => setClientEnds(ck, from, false),
      leader,
      logSize,
      snapshotSize,
      history,
      opCount: recorder.opCount,
      checkLinearizable: recorder.check
    }
  })

export type KvHarness = Effect.Effect.Success<ReturnType<typeof make>>

/** `checkClntAppends`: each "x clnt j y" for j < count appears exactly once, in order. */
export const checkClntAppends = (clnt: number, v: string, count: number): string | undefined => {
  let lastoff = -1
  for (let j = 0; j < count; j++) {
    const wanted = `x ${clnt} ${j} y`
    const off = v.indexOf(wanted)
    if (off < 0) return `${clnt} missing element ${wanted} in Append result ${v}`
    const off1 = v.lastIndexOf(wanted)
    if (off1 !== off) return `duplicate element ${wanted} in Append result`
    if (off <= lastoff) return `wrong order for element ${wanted} in Append result`
    lastoff = off
  }
  return undefined
}

/** `checkConcurrentAppends`: the same check for every client i with counts[i]. */
export const checkConcurrentAppends = (v: string, counts: ReadonlyArray<number>): string | undefined => {
  for (let i = 0; i < counts.length; i++) {
    const err = checkClntAppends(i, v, counts[i]!)
    if (err !== undefined) return err
  }
  return undefined
}

/** A kvraft test: a seeded simulation (120 s of simulated time) with a fresh harness. */
export const kvTest = (
  name: string,
  options: Options,
  body: (cfg: KvHarness) => Effect.Effect<void, unknown, TestRun>,
  simOptions?: SimTestOptions
) =>
  simTest(
    name,
    Effect.gen(function*() {
      const cfg = yield* make(options)
      yield* body(cfg)
    }),
    simOptions
  )
