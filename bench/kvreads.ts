/**
 * `npm run bench -- kvreads`: linearizable Gets served by ReadIndex (a heartbeat round, no log write)
 * against Gets routed through the Raft log (an entry, an fsync on a majority), on a real 3-node
 * cluster in this process: loopback TCP, file storage in a temp directory. For each mode, 64 clients
 * issue Gets on 100 keys for a fixed time; printed: Gets/s, p50 and p99 latency, and the ratio.
 */
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { Effect, Scope } from "effect"
import * as KvClient from "../src/kv/KvClient.js"
import * as KvServer from "../src/kv/KvServer.js"
import * as Raft from "../src/raft/Raft.js"
import * as RaftConfig from "../src/raft/RaftConfig.js"
import * as Tcp from "../src/rpc/Tcp.js"
import { Transport } from "../src/rpc/Transport.js"
import * as FileStorage from "../src/storage/FileStorage.js"
import { LogStorage } from "../src/raft/LogStorage.js"

const CLIENTS = 64
const KEYS = 100
const MEASURE_MS = 4000

const cluster = (getMode: "readIndex" | "log") =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "concord-kvreads-" })
    const ids = ["n1", "n2", "n3"]
    const peers: Record<string, string> = {}
    for (const id of ids) {
      const scope = yield* Effect.scope
      const transport = yield* Tcp.make({ self: id, listen: {}, peers })
      peers[id] = `127.0.0.1:${transport.address!.port}`
      const storage = yield* FileStorage.make({ dir: `${dir}/${id}` })
      yield* Effect.gen(function*() {
        const raft = yield* Raft.make(RaftConfig.make({ id, peers: ids, electionTimeoutMs: 300, heartbeatIntervalMs: 50 }))
        yield* KvServer.make({ maxRaftState: 4 * 1024 * 1024, getMode }).pipe(Effect.provideService(Raft.Raft, raft))
      }).pipe(Effect.provideService(Transport, transport), Effect.provideService(LogStorage, storage), Scope.extend(scope))
    }
    const clientTransport = yield* Tcp.make({ self: "bench-client", peers })
    const clients = yield* Effect.forEach(Array.from({ length: CLIENTS }), () =>
      KvClient.make({ servers: ids, callTimeout: "2 seconds" }).pipe(Effect.provideService(Transport, clientTransport)))
    // Load the keys (and wait for a leader).
    yield* Effect.forEach(Array.from({ length: KEYS }, (_, k) => k), (k) => clients[k % CLIENTS]!.put(`key-${k}`, "v".repeat(64)), {
      concurrency: CLIENTS
    })
    return clients
  })

const measure = (getMode: "readIndex" | "log") =>
  Effect.scoped(Effect.gen(function*() {
    const clients = yield* cluster(getMode)
    const latencies: Array<number> = []
    const until = performance.now() + MEASURE_MS
    const start = performance.now()
    yield* Effect.forEach(clients, (c, i) =>
      Effect.gen(function*() {
        let k = i
        while (performance.now() < until) {
          const t = performance.now()
          yield* c.get(`key-${k++ % KEYS}`)
          latencies.push(performance.now() - t)
        }
      }), { concurrency: "unbounded", discard: true })
    const seconds = (performance.now() - start) / 1000
    latencies.sort((a, b) => a - b)
    return {
      perSecond: latencies.length / seconds,
      p50: latencies[Math.floor(latencies.length * 0.5)]!,
      p99: latencies[Math.floor(latencies.length * 0.99)]!
    }
  }))

export const run = async () => {
  const program = Effect.gen(function*() {
    const readIndex = yield* measure("readIndex")
    const log = yield* measure("log")
    const row = (name: string, r: typeof readIndex) =>
      `${name.padEnd(22)} ${r.perSecond.toFixed(0).padStart(8)} ${r.p50.toFixed(2).padStart(8)} ${r.p99.toFixed(2).padStart(8)}`
    console.log(`linearizable Gets, 3 nodes, loopback TCP, file storage, ${CLIENTS} clients, ${MEASURE_MS / 1000} s each`)
    console.log(`${"mode".padEnd(22)} ${"gets/s".padStart(8)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)}`)
    console.log(row("ReadIndex (no log)", readIndex))
    console.log(row("through the log", log))
    console.log(`ReadIndex / log: ${(readIndex.perSecond / log.perSecond).toFixed(2)}x throughput, ` +
      `${(log.p50 / readIndex.p50).toFixed(2)}x lower p50`)
  })
  await Effect.runPromise(program.pipe(Effect.provide(NodeFileSystem.layer)))
}


