/**
 * The 6.824 shard controller harness (SPEC-6824 §4.2) in Effect: `n` controller replicas (a
 * `CtrlServer` on a Raft node each) on a reliable `SimNetwork`, clerks with ends to every replica in
 * a random order, `shutdownServer` / `startServer` (a restarted replica gets a copy of its storage),
 * and `leader`. The sharded key/value harness starts one of these for its controllers.
 */
import { Effect, Random } from "effect"
import * as CtrlClient from "../../src/shardctrler/CtrlClient.js"
import * as CtrlServer from "../../src/shardctrler/CtrlServer.js"
import * as SimNetwork from "../../src/rpc/SimNetwork.js"
import { Transport } from "../../src/rpc/Transport.js"
import { makeGroup } from "./GroupHarness.js"
import { randomName } from "./names.js"
import { simTest, type SimTestOptions, type TestRun } from "./simTest.js"

export interface Options {
  readonly n: number
  readonly server?: CtrlServer.Options
}

/** The controller replicas' server names. */
export const ctrlerNames = (n: number) => Array.from({ length: n }, (_, i) => `ctrler-${i}`)

/** A controller cluster on `net`: its group, and clerks. */
export const makeCtrlers = (net: SimNetwork.SimNetworkShape, options: Options) =>
  Effect.gen(function*() {
    const ids = ctrlerNames(options.n)
    const group = yield* makeGroup({ net, ids, service: () => CtrlServer.make({ maxRaftState: -1, ...options.server }) })
    yield* group.startAll
    let clerks = 0

    /** A clerk with its own ends to every replica, in a random order (as the harness's makeClient). */
    const makeClient = (options: Partial<CtrlClient.Options> = {}) =>
      Effect.gen(function*() {
        const name = `ctrl-clerk-${clerks++}`
        const ends: Record<string, string> = {}
        for (const id of ids) {
          const end = yield* randomName
          yield* net.makeEnd(end)
          yield* net.connect(end, id)
          yield* net.enable(end, true)
          ends[id] = end
        }
        const order = [...ids]
        for (let k = order.length - 1; k > 0; k--) {
          const r = yield* Random.nextIntBetween(0, k + 1)
          ;[order[k], order[r]] = [order[r]!, order[k]!]
        }
        const client = yield* CtrlClient.make({ servers: order, ...options }).pipe(
          Effect.provideService(Transport, net.transport({ self: name, ends }))
        )
        /** `ends[replica]`: this clerk's end to that replica (for targeted faults). */
        return Object.assign(client, { ends })
      })

    return { ...group, net, makeClient }
  })

/** A controller test: a seeded simulation (120 s of simulated time) with a fresh cluster. */
export const ctrlTest = (
  name: string,
  options: Options,
  body: (cfg: Effect.Effect.Success<ReturnType<typeof makeCtrlers>>) => Effect.Effect<void, unknown, TestRun>,
  simOptions?: SimTestOptions
) =>
  simTest(
    name,
    Effect.gen(function*() {
      const net = yield* SimNetwork.make()
      // Operations take simulated time, as execution time does in Go (see KvHarness.LATENCY_MS).
      yield* net.setLatency(1, 5)
      const cfg = yield* makeCtrlers(net, options)
      yield* body(cfg)
      yield* net.cleanup
    }),
    simOptions
  )
