import { NodeFileSystem } from "@effect/platform-node"
import { Effect } from "effect"
import * as KvNode from "./src/kv/KvNode.js"
import * as KvClient from "./src/kv/KvClient.js"
import { Transport } from "./src/rpc/Transport.js"
const prog = Effect.gen(function*() {
  const node = yield* KvNode.make({ id: "n1", peers: { n1: "127.0.0.1:27001", n2: "127.0.0.1:27002", n3: "127.0.0.1:27003" }, dataDir: "/tmp/hang/x2" })
  const c = yield* KvClient.make({ servers: ["n1", "n2", "n3"], callTimeout: "2 seconds" }).pipe(Effect.provideService(Transport, node.transport))
  const t0 = performance.now()
  const r = yield* Effect.either(c.put("k", "v", { timeout: "2 seconds" }))
  console.log("client timeout", r._tag, performance.now() - t0)
  const t1 = performance.now()
  const r2 = yield* Effect.either(c.put("k", "v").pipe(Effect.timeout("2 seconds")))
  console.log("outer timeout", r2._tag, performance.now() - t1)
}).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer))
Effect.runPromise(prog).then(() => process.exit(0))
