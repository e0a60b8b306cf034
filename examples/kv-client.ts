// One KvClient program, two Layers: a real cluster over TCP, or a simulated one.
// Against the cluster `npm start` runs: npx tsx examples/kv-client.ts
import { Effect, Layer } from "effect"
import { pathToFileURL } from "node:url"
import { KvClient, SimNetwork, Tcp } from "../src/index.js"

export const program = Effect.gen(function*() {
  const kv = yield* KvClient.KvClient
  yield* kv.put("greeting", "hello")
  yield* kv.append("greeting", ", world")
  return yield* kv.get("greeting") // "hello, world"
})

// A real cluster: three nodes (`concord kv serve`, or `KvNode`s) listening on 7001-7003.
const servers = ["n1", "n2", "n3"]
const peers = { n1: "127.0.0.1:7001", n2: "127.0.0.1:7002", n3: "127.0.0.1:7003" }
export const overTcp = KvClient.layer({ servers, callTimeout: "1 second" }).pipe(Layer.provide(Tcp.layer({ self: "client", peers })))

// A simulated cluster: the same program on a SimNetwork (which it needs in context), inside a seeded
// Simulation; examples/kv-two-layers.ts runs it.
export const simulated = KvClient.layer({ servers }).pipe(Layer.provide(SimNetwork.layerMesh("client", servers)))

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  console.log(await Effect.runPromise(program.pipe(Effect.provide(overTcp))))
}
