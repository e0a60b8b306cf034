// A MapReduce coordinator as a library, on TCP port 7000 with the job's files under out/; workers
// (`concord mr worker --coordinator 127.0.0.1:7000 --app wc`, or `MapReduce.Worker.run`) do the work.
//   npx tsx examples/mapreduce-job.ts FILE…
import { NodeFileSystem } from "@effect/platform-node"
import { Effect } from "effect"
import { pathToFileURL } from "node:url"
import { Tcp, Transport } from "../src/index.js"
import { Coordinator } from "../src/mapreduce/index.js"

export const job = (files: ReadonlyArray<string>) => Effect.scoped(Effect.gen(function*() {
  const tcp = yield* Tcp.make({ self: "coordinator", listen: { port: 7000 } })
  const coordinator = yield* Coordinator.make(Coordinator.makeConfig({ inputs: files, nReduce: 10, dir: "out" })).pipe(
    Effect.provideService(Transport.Transport, tcp)
  )
  return yield* coordinator.await // JobSummary: outputs, elapsedMs, progress, counters, stats
})).pipe(Effect.provide(NodeFileSystem.layer))

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  console.log(await Effect.runPromise(job(process.argv.slice(2))))
}
