/**
 * MapReduce under Effect's TestClock: a worker takes a map task and stalls. Its lease is 10 s; one
 * millisecond before that nothing has happened, and at 10 s the coordinator gives the task to the
 * other worker, which finishes the job. The stalled attempt never reported, so it counts for nothing.
 *
 * The coordinator and the workers talk over a `SimNetwork` and share an in-memory file system; no
 * cluster is needed, only the library's Layers.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { MapReduce, MemoryFileSystem, SimNetwork, Transport } from "concord-dist"

/** Word count, except that the worker named "slow" never finishes a map task. */
const app: MapReduce.App.App = {
  name: "stalling-wc",
  map: (_file, contents) =>
    Effect.gen(function*() {
      if ((yield* MapReduce.App.workerId) === "slow") return yield* Effect.never
      const words = contents.split(/\s+/).filter((w) => w !== "")
      yield* MapReduce.App.count("words", words.length)
      return words.map((key) => ({ key, value: "1" }))
    }),
  reduce: (_key, values) => String(values.length)
}

describe("MapReduce under the TestClock", () => {
  it.scoped("a stalled worker's task is reassigned when its 10 s lease runs out", () =>
    Effect.gen(function*() {
      const net = yield* SimNetwork.make()
      const notices: Array<{ readonly atMs: number; readonly notice: MapReduce.Scheduler.Notice }> = []
      const coordinator = yield* MapReduce.Coordinator.make(MapReduce.Coordinator.makeConfig({
        inputs: ["/in/book.txt"],
        nReduce: 1,
        dir: "/job",
        pollMs: 1000, // idle workers ask again every second (fewer timer firings under the TestClock)
        backup: undefined, // no backup tasks: only the lease moves the task
        onNotice: (notice, atMs) => void notices.push({ atMs, notice })
      })).pipe(Effect.provideServiceEffect(Transport.Transport, net.meshTransport("coordinator", [])))
      const worker = (id: string) =>
        MapReduce.Worker.make(MapReduce.Worker.makeConfig({ id, coordinator: "coordinator", app, dir: "/job" })).pipe(
          Effect.provideServiceEffect(Transport.Transport, net.meshTransport(id, ["coordinator"]))
        )

      // The slow worker asks first and gets the only map task. (`adjust` by 0 lets forked fibers run.)
      yield* worker("slow")
      yield* TestClock.adjust("0 millis")
      expect(notices.map((n) => n.notice)).toMatchObject([{ _tag: "Assigned", worker: "slow", task: { kind: "Map", index: 0 } }])
      yield* worker("fast")

      // Until the lease runs out the fast worker only waits.
      yield* TestClock.adjust("9999 millis")
      expect(notices.filter((n) => n.notice._tag !== "Assigned" || n.notice.worker !== "slow")).toEqual([])

      yield* TestClock.adjust("1 millis")
      const expired = notices.find((n) => n.notice._tag === "Expired")
      expect(expired).toMatchObject({ atMs: 10_000, notice: { worker: "slow", task: { kind: "Map", index: 0 } } })
      const reassigned = notices.find((n) => n.notice._tag === "Assigned" && n.notice.worker === "fast")
      expect(reassigned).toMatchObject({ atMs: 10_000, notice: { task: { kind: "Map", index: 0 }, reexecution: true } })

      // The fast worker did the map and the reduce in that same instant; the stalled attempt counts for nothing.
      const summary = yield* coordinator.await
      expect(summary.counters).toEqual({ words: 6 })
      expect(summary.progress.reexecutions).toBe(1)
    }).pipe(Effect.provide(MemoryFileSystem.layer({ files: { "/in/book.txt": "the cat saw the dog run" } }))))
})
