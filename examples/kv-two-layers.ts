/**
 * The KvClient program of examples/kv-client.ts, two Layers: a simulated 3-node cluster (SimNetwork,
 * memory storage, virtual time, a seed) and a real one (three KvNodes on loopback TCP with file storage
 * in a temp directory).
 *
 *   npx tsx examples/kv-two-layers.ts
 */
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { pathToFileURL } from "node:url"
import { KvClient, KvServer, LogStorage, MemoryStorage, Raft, RaftConfig, SimNetwork, Simulation, Tcp, Transport } from "../src/index.js"
import { KvNode } from "../src/kv/index.js"
import { program, simulated } from "./kv-client.js"

export { program }

const ids = ["n1", "n2", "n3"]

/** Three simulated KV nodes on the SimNetwork in context, plus the client Layer for them. */
export const simulatedCluster = Effect.gen(function*() {
  const net = yield* SimNetwork.SimNetwork
  for (const id of ids) {
    const transport = yield* net.meshTransport(id, ids)
    const storage = yield* MemoryStorage.make
    yield* Effect.gen(function*() {
      const raft = yield* Raft.make(RaftConfig.make({ id, peers: ids }))
      yield* KvServer.make({ maxRaftState: -1 }).pipe(Effect.provideService(Raft.Raft, raft))
    }).pipe(Effect.provideService(Transport.Transport, transport), Effect.provideService(LogStorage.LogStorage, storage))
  }
  yield* net.setLatency(1, 5)
  return simulated.pipe(Layer.provide(Layer.succeed(SimNetwork.SimNetwork, net)))
})

/** The program against a simulated cluster, in a seeded simulation. */
export const runSimulated = (seed: number) =>
  Simulation.runOrThrow(
    Effect.scoped(Effect.gen(function*() {
      const client = yield* simulatedCluster
      return yield* program.pipe(Effect.provide(client))
    })).pipe(Effect.provide(SimNetwork.layer())),
    { seed }
  )

/** Three real KV nodes on loopback TCP with file storage under `dir`, plus the client Layer for them. */
export const realCluster = (dir: string) =>
  Effect.gen(function*() {
    // Bind each node on port 0 first, so the example never collides with another program's ports.
    const ports = yield* Effect.forEach(ids, () =>
      Effect.scoped(Effect.map(Tcp.make({ self: "probe", listen: {} }), (t) => t.address!.port)))
    const peers = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${ports[i]}`]))
    for (const id of ids) yield* KvNode.make({ id, peers, dataDir: `${dir}/${id}` })
    return KvClient.layer({ servers: ids, callTimeout: "2 seconds" }).pipe(Layer.provide(Tcp.layer({ self: "client", peers })))
  })

/** The program against a real cluster in a fresh temp directory. */
export const runReal = Effect.scoped(Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "concord-kv-example-" })
  const client = yield* realCluster(dir)
  return yield* program.pipe(Effect.provide(client))
})).pipe(Effect.provide(NodeFileSystem.layer))

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const simulated = await runSimulated(42)
  console.log(`simulated cluster (seed 42): ${JSON.stringify(simulated.value)} after ${simulated.stats.simulatedMs.toFixed(0)} simulated ms`)
  const real = await Effect.runPromise(runReal)
  console.log(`real cluster (loopback TCP, files): ${JSON.stringify(real)}`)
}
