/** 6.824 Lab 3B: the key/value service with snapshots (SPEC-6824 §3.5, tests 15–23). */
import { Effect } from "effect"
import { describe, expect } from "vitest"
import { ET, kvTest } from "../support/KvHarness.js"
import { generic, speed } from "./generic.js"

const base = { nservers: 5, unreliable: false, crash: false, partitions: false, maxraftstate: 1000, randomkeys: false }

describe("KV 3B", () => {
  kvTest("SnapshotRPC3B", { n: 3, unreliable: false, maxraftstate: 1000 }, (cfg) =>
    Effect.gen(function*() {
      const maxraftstate = 1000
      const ck = yield* cfg.makeClient(cfg.all)
      yield* ck.put("a", "A")
      expect(yield* ck.get("a")).toBe("A")
      // A bunch of puts into the majority partition.
      yield* cfg.partition([0, 1], [2])
      {
        const ck1 = yield* cfg.makeClient([0, 1])
        for (let i = 0; i < 50; i++) yield* ck1.put(String(i), String(i))
        yield* Effect.sleep(`${ET} millis`)
        yield* ck1.put("b", "B")
      }
      // Check that the majority partition has thrown away most of its log entries.
      const sz = yield* cfg.logSize
      expect(sz, `logs were not trimmed (${sz} > 8*${maxraftstate})`).toBeLessThanOrEqual(8 * maxraftstate)
      // Now make a group that requires participation of the lagging server, so it has to catch up
      // via InstallSnapshot.
      yield* cfg.partition([0, 2], [1])
      {
        const ck1 = yield* cfg.makeClient([0, 2])
        yield* ck1.put("c", "C")
        yield* ck1.put("d", "D")
        expect(yield* ck1.get("a")).toBe("A")
        expect(yield* ck1.get("b")).toBe("B")
        expect(yield* ck1.get("1")).toBe("1")
        expect(yield* ck1.get("49")).toBe("49")
      }
      // Now everybody.
      yield* cfg.partition([0, 1, 2], [])
      yield* ck.put("e", "E")
      expect(yield* ck.get("c")).toBe("C")
      expect(yield* ck.get("e")).toBe("E")
      expect(yield* ck.get("1")).toBe("1")
      yield* cfg.checkLinearizable
    }))

  kvTest("SnapshotSize3B", { n: 3, unreliable: false, maxraftstate: 1000 }, (cfg) =>
    Effect.gen(function*() {
      const maxraftstate = 1000
      const maxsnapshotstate = 500
      const ck = yield* cfg.makeClient(cfg.all)
      for (let i = 0; i < 200; i++) {
        yield* ck.put("x", "0")
        expect(yield* ck.get("x")).toBe("0")
        yield* ck.put("x", "1")
        expect(yield* ck.get("x")).toBe("1")
      }
      // Check that the servers have thrown away most of their log entries.
      const sz = yield* cfg.logSize
      expect(sz, `logs were not trimmed (${sz} > 8*${maxraftstate})`).toBeLessThanOrEqual(8 * maxraftstate)
      // Check that the snapshots are not unreasonably large.
      const ssz = yield* cfg.snapshotSize
      expect(ssz, `snapshot too large (${ssz} > ${maxsnapshotstate})`).toBeLessThanOrEqual(maxsnapshotstate)
      yield* cfg.checkLinearizable
    }))

  speed("Speed3B", 1000)
  generic("SnapshotRecover3B", { ...base, nclients: 1, crash: true })
  generic("SnapshotRecoverManyClients3B", { ...base, nclients: 20, crash: true })
  generic("SnapshotUnreliable3B", { ...base, nclients: 5, unreliable: true })
  generic("SnapshotUnreliableRecover3B", { ...base, nclients: 5, unreliable: true, crash: true })
  generic("SnapshotUnreliableRecoverConcurrentPartition3B", {
    ...base,
    nclients: 5,
    unreliable: true,
    crash: true,
    partitions: true
  })
  generic("SnapshotUnreliableRecoverConcurrentPartitionLinearizable3B", {
    ...base,
    nclients: 15,
    nservers: 7,
    unreliable: true,
    crash: true,
    partitions: true,
    randomkeys: true
  })
})
