/** GenericTest and GenericTestSpeed of the 6.824 kvraft tests (SPEC-6824 §3.3, §3.4). */
import { Clock, Effect, Fiber, Random, Ref } from "effect"
import { expect } from "vitest"
import { checkClntAppends, type Clerk, ET, type KvHarness, kvTest } from "../support/KvHarness.js"

export interface GenericParams {
  readonly nclients: number
  readonly nservers: number
  readonly unreliable: boolean
  readonly crash: boolean
  readonly partitions: boolean
  readonly maxraftstate: number
  readonly randomkeys: boolean
}

/** The partitioner: every ET + 0–199 ms, each server goes to side 0 or 1 at random (a side may be empty). */
const partitioner = (cfg: KvHarness, done: Ref.Ref<boolean>) =>
  Effect.gen(function*() {
    while (!(yield* Ref.get(done))) {
      const sides: [Array<number>, Array<number>] = [[], []]
      for (let i = 0; i < cfg.n; i++) sides[(yield* Random.nextIntBetween(0, 2)) as 0 | 1].push(i)
      yield* cfg.partition(sides[0], sides[1])
      yield* Effect.sleep(`${ET + (yield* Random.nextIntBetween(0, 200))} millis`)
    }
  })

/** One client of GenericTest: returns how many appends/puts it made (j). */
const client = (cfg: KvHarness, cli: number, p: GenericParams, done: Ref.Ref<boolean>) =>
  Effect.gen(function*() {
    const myck: Clerk = yield* cfg.makeClient(cfg.all)
    let j = 0
    let last = "" // only used when not randomkeys
    if (!p.randomkeys) yield* myck.put(String(cli), last, cli)
    while (!(yield* Ref.get(done))) {
      const key = p.randomkeys ? String(yield* Random.nextIntBetween(0, p.nclients)) : String(cli)
      const nv = `x ${cli} ${j} y`
      if ((yield* Random.nextIntBetween(0, 1000)) < 500) {
        yield* myck.append(key, nv, cli)
        if (!p.randomkeys) last = last + nv
        j++
      } else if (p.randomkeys && (yield* Random.nextIntBetween(0, 1000)) < 100) {
        // Only with random keys: a Put would break the exact Get check below.
        yield* myck.put(key, nv, cli)
        j++
      } else {
        const v = yield* myck.get(key, cli)
        if (!p.randomkeys && v !== last) {
          return yield* Effect.fail(new Error(`get wrong value, key ${key}, wanted:\n${last}\n, got\n${v}`))
        }
      }
    }
    return j
  })

export const genericTest = (cfg: KvHarness, p: GenericParams) =>
  Effect.gen(function*() {
    const ck = yield* cfg.makeClient(cfg.all)
    for (let iteration = 0; iteration < 3; iteration++) {
      const doneClients = yield* Ref.make(false)
      const donePartitioner = yield* Ref.make(false)
      const clients = yield* Effect.forEach(Array.from({ length: p.nclients }, (_, i) => i), (cli) =>
        Effect.fork(client(cfg, cli, p, doneClients)))
      let partitions: Fiber.RuntimeFiber<void> | undefined
      if (p.partitions) {
        // Allow the clients to perform some operations without interruption.
        yield* Effect.sleep("1 second")
        partitions = yield* Effect.fork(partitioner(cfg, donePartitioner))
      }
      yield* Effect.sleep("5 seconds")
      yield* Ref.set(doneClients, true)
      yield* Ref.set(donePartitioner, true)
      if (partitions !== undefined) {
        yield* Fiber.join(partitions)
        // Reconnect; a client blocked in a minority completes once its server learns of the new term.
        yield* cfg.connectAll
        yield* Effect.sleep(`${ET} millis`)
      }
      if (p.crash) {
        for (let i = 0; i < p.nservers; i++) yield* cfg.shutdownServer(i)
        // Wait for a while for servers to shut down.
        yield* Effect.sleep(`${ET} millis`)
        for (let i = 0; i < p.nservers; i++) yield* cfg.startServer(i)
        yield* cfg.connectAll
      }
      for (let i = 0; i < p.nclients; i++) {
        const j = yield* Fiber.join(clients[i]!)
        const v = yield* ck.get(String(i), 0)
        if (!p.randomkeys) {
          const err = checkClntAppends(i, v, j)
          expect(err).toBeUndefined()
        }
      }
      if (p.maxraftstate > 0) {
        // After the servers have processed all client requests and had time to snapshot.
        const sz = yield* cfg.logSize
        expect(sz, `logs were not trimmed (${sz} > 8*${p.maxraftstate})`).toBeLessThanOrEqual(8 * p.maxraftstate)
      }
      if (p.maxraftstate < 0) {
        const ssz = yield* cfg.snapshotSize
        expect(ssz, `snapshot used (${ssz}) although maxraftstate = ${p.maxraftstate}`).toBe(0)
      }
    }
    yield* cfg.checkLinearizable
  })

/** A GenericTest as a seeded simulation. */
export const generic = (name: string, p: GenericParams) =>
  kvTest(name, { n: p.nservers, unreliable: p.unreliable, maxraftstate: p.maxraftstate }, (cfg) => genericTest(cfg, p))

/** GenericTestSpeed: 1000 sequential appends at under 33.3 ms each on average (in simulated time). */
export const speed = (name: string, maxraftstate: number) =>
  kvTest(name, { n: 3, unreliable: false, maxraftstate }, (cfg) =>
    Effect.gen(function*() {
      const ck = yield* cfg.makeClient(cfg.all)
      // Wait until the first operation completes: a leader is elected and the servers serve.
      yield* ck.get("x")
      const numOps = 1000
      const start = yield* Clock.currentTimeMillis
      for (let i = 0; i < numOps; i++) yield* ck.append("x", `x 0 ${i} y`)
      const dur = (yield* Clock.currentTimeMillis) - start
      const v = yield* ck.get("x")
      expect(checkClntAppends(0, v, numOps)).toBeUndefined()
      const timePerOp = 100 / 3 // heartbeat interval ~100 ms; at least 3 ops per interval
      expect(dur / numOps, `operations completed too slowly: ${dur / numOps} ms/op > ${timePerOp} ms/op`).toBeLessThan(timePerOp)
      yield* cfg.checkLinearizable
    }))
