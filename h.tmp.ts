import { NodeFileSystem } from "@effect/platform-node"
import { Effect, Duration } from "effect"
import * as KvNode from "./src/kv/KvNode.js"
const prog = Effect.gen(function*() {
  const node = yield* KvNode.make({ id: "n1", peers: { n1: "127.0.0.1:27001", n2: "127.0.0.1:27002", n3: "127.0.0.1:27003" }, dataDir: "/tmp/hang/x1", httpPort: 28001 })
  console.log("up", node.httpPort)
  const t0 = performance.now()
  const r = yield* Effect.promise(() => fetch("http://127.0.0.1:28001/v1/kv/b", { method: "PUT", body: "v", signal: AbortSignal.timeout(15000) }).then(r => r.text(), e => "ERR " + e))
  console.log(r, performance.now() - t0)
}).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer))
Effect.runPromise(prog).then(() => process.exit(0))
