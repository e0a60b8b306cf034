/**
 * The 6.824 shardkv harness (SPEC-6824 §5.2) in Effect: 3 controller replicas ("ctrler-0..2") and 3
 * groups (gids 100, 101, 102) of `n` servers ("server-<gid>-<i>"), each a Raft node with a
 * `ShardKvServer`, on one `SimNetwork` whose reliability applies to every RPC, the controller's
 * included. `join` / `leave` / `joinm` / `leavem` go through the test's own controller clerk;
 * `shutdownServer` / `startServer` / `shutdownGroup` / `startGroup` as the original (a shut-down
 * server's outgoing ends go dark and its server is deleted; it restarts from a copy of its storage);
 * `checklogs`. Every clerk operation is recorded and `checkLinearizable` checks the whole history.
 */
import { Effect, Random } from "effect"
import type * as KvModel from "../../src/check/models/Kv.js"
import * as SimNetwork from "../../src/rpc/SimNetwork.js"
import { Transport } from "../../src/rpc/Transport.js"
import * as ShardKvClient from "../../src/shardkv/ShardKvClient.js"
import * as ShardKvServer from "../../src/shardkv/ShardKvServer.js"
import { ctrlerNames, makeCtrlers } from "./CtrlHarness.js"
import { type Group, makeGroup } from "./GroupHarness.js"
import { LATENCY_MS } from "./KvHarness.js"
import { randomName } from "./names.js"
import { makeRecorder } from "./Recorder.js"
import { simTest, type SimTestOptions, TestRun } from "./simTest.js"

export interface Options {
  /** Servers per group (the original: 3). */
  readonly n: number
  readonly unreliable: boolean
  readonly maxraftstate: number
  readonly server?: Partial<Omit<ShardKvServer.Options, "machine">>
  /** A different state machine per group (a negative control's mutation). */
  readonly machine?: (gid: number) => NonNullable<ShardKvServer.Options["machine"]>
}

export const GIDS = [100, 101, 102] as const

export const serverName = (gid: number, i: number) => `server-${gid}-${i}`

/** A clerk whose operations are recorded (as the Go harness's Get/Put/Append wrappers). */
export interface Clerk {
  readonly name: string
  /** `ends[server]`: this clerk's end to that server or controller (for targeted faults). */
  readonly ends: Readonly<Record<string, string>>
  readonly get: (key: string, cli?: number) => Effect.Effect<string>
  readonly put: (key: string, value: string, cli?: number) => Effect.Effect<void>
  readonly append: (key: string, value: string, cli?: number) => Effect.Effect<void>
}

export const make = (options: Options) =>
  Effect.gen(function*() {
    const run = yield* TestRun
    const net = yield* SimNetwork.make()
    yield* net.setReliable(!options.unreliable)
    yield* net.setLatency(LATENCY_MS[0], LATENCY_MS[1])
    const ctrl = yield* makeCtrlers(net, { n: 3, server: { keyToShard: "first-byte", nShards: 10, maxRaftState: -1 } })
    const ctrlers = ctrlerNames(3)
    const mck = yield* ctrl.makeClient()
    const names = GIDS.map((gid) => Array.from({ length: options.n }, (_, i) => serverName(gid, i)))
    const everyServer = names.flat()

    const groups: Array<Group<ShardKvServer.ShardKvServerShape>> = []
    for (let gi = 0; gi < GIDS.length; gi++) {
      const gid = GIDS[gi]!
      const group = yield* makeGroup({
        net,
        ids: names[gi]!,
        others: [...ctrlers, ...everyServer.filter((s) => !names[gi]!.includes(s))],
        service: () =>
          ShardKvServer.make({
            gid,
            ctrlers,
            maxRaftState: options.maxraftstate,
            ...options.server,
            ...(options.machine === undefined ? {} : { machine: options.machine(gid) })
          })
      })
      yield* group.startAll
      groups.push(group)
    }

    const servers = (gi: number) => names[gi]!
    const join = (gi: number) => mck.join(new Map([[GIDS[gi]!, servers(gi)]]))
    const joinm = (gis: ReadonlyArray<number>) => mck.join(new Map(gis.map((gi) => [GIDS[gi]!, servers(gi)] as const)))
    const leave = (gi: number) => mck.leave([GIDS[gi]!])
    const leavem = (gis: ReadonlyArray<number>) => mck.leave(gis.map((gi) => GIDS[gi]!))

    const recorder = makeRecorder(run, "shardkv")
    let clerks = 0

    /** A clerk with its own ends to the controllers and every server. */
    const makeClient = Effect.gen(function*() {
      const name = `clerk-${clerks++}`
      const ends: Record<string, string> = {}
      for (const target of [...ctrlers, ...everyServer]) {
        const end = yield* randomName
        yield* net.makeEnd(end)
        yield* net.connect(end, target)
        yield* net.enable(end, true)
        ends[target] = end
      }
      const order = [...ctrlers]
      for (let k = order.length - 1; k > 0; k--) {
        const r = yield* Random.nextIntBetween(0, k + 1)
        ;[order[k], order[r]] = [order[r]!, order[k]!]
      }
      const client = yield* ShardKvClient.make({ ctrlers: order }).pipe(Effect.provideService(Transport, net.transport({ self: name, ends })))
      const record = <A>(cli: number, input: KvModel.KvInput, op: Effect.Effect<A, unknown>, output: (a: A) => KvModel.KvOutput) =>
        recorder.record(cli, input, Effect.orDie(op), output)
      const clerk: Clerk = {
        name,
        ends,
        get: (key, cli = 0) => record(cli, { op: "get", key }, client.get(key), (value) => ({ value })),
        put: (key, value, cli = 0) => record(cli, { op: "put", key, value }, client.put(key, value), () => ({})),
        append: (key, value, cli = 0) => record(cli, { op: "append", key, value }, client.append(key, value), () => ({}))
      }
      return clerk
    })

    /** checklogs: every server's Raft state within 8·maxraftstate, or no snapshot at all if it is −1. */
    const checklogs = Effect.gen(function*() {
      for (let gi = 0; gi < groups.length; gi++) {
        for (let i = 0; i < options.n; i++) {
          const sizes = yield* groups[gi]!.sizes(i)
          if (sizes === undefined) continue
          if (options.maxraftstate >= 0) {
            if (sizes.logBytes > 8 * options.maxraftstate) {
              return yield* Effect.dieMessage(`persister.RaftStateSize() ${sizes.logBytes}, but maxraftstate ${options.maxraftstate}`)
            }
          } else if (sizes.snapshotBytes > 0) {
            return yield* Effect.dieMessage("maxraftstate is -1, but snapshot is non-empty!")
          }
        }
      }
    })

    /** Raft state plus snapshot, over every server (Challenge1Delete's bound). */
    const totalStateBytes = Effect.gen(function*() {
      let total = 0
      for (const g of groups) {
        for (let i = 0; i < options.n; i++) {
          const sizes = yield* g.sizes(i)
          if (sizes !== undefined) total += sizes.logBytes + sizes.snapshotBytes
        }
      }
      return total
    })

    yield* Effect.addFinalizer(() => net.cleanup)

    return {
      net,
      ctrl,
      mck,
      groups,
      join,
      joinm,
      leave,
      leavem,
      makeClient,
      shutdownServer: (gi: number, i: number) => groups[gi]!.shutdown(i),
      startServer: (gi: number, i: number) => groups[gi]!.start(i),
      shutdownGroup: (gi: number) => groups[gi]!.shutdownAll,
      startGroup: (gi: number) => groups[gi]!.startAll,
      checklogs,
      totalStateBytes,
      history: recorder.history,
      checkLinearizable: recorder.check
    }
  })

export type ShardKvHarness = Effect.Effect.Success<ReturnType<typeof make>>

/** A shardkv test: a seeded simulation with a fresh harness; the recorded history is checked at the end. */
export const shardTest = (
  name: string,
  options: Options,
  body: (cfg: ShardKvHarness) => Effect.Effect<void, unknown, TestRun>,
  simOptions?: SimTestOptions
) =>
  simTest(
    name,
    Effect.gen(function*() {
      const cfg = yield* make(options)
      yield* body(cfg)
      yield* cfg.checkLinearizable
    }),
    simOptions
  )
