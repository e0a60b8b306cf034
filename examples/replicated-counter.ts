/**
 * Replicate your own state machine with Concord's Raft: three nodes in one process, real loopback TCP,
 * real files (under ./data/example-counter, or the directory given as the first argument).
 *
 *   npx tsx examples/replicated-counter.ts
 *
 * Each node runs a `ReplicatedStateMachine` of named counters. The program waits for a leader, adds to
 * the counters through it, stops the leader, lets the other two elect a new one, keeps writing, and
 * reads the result linearizably. Run it twice: the second run starts from what the first one left on
 * disk.
 */
import { NodeFileSystem } from "@effect/platform-node"
import { Console, Effect, Exit, Schema, Scope } from "effect"
import { Codec, FileStorage, LogStorage, Raft, RaftConfig, Tcp, Transport } from "../src/index.js"
import * as Rsm from "../src/raft/ReplicatedStateMachine.js"

// 1. The state machine: pure functions over your own state.
type Counters = ReadonlyMap<string, number>
const Add = Schema.Struct({ name: Schema.String, amount: Schema.Int })
type Add = typeof Add.Type

const counters: Rsm.StateMachine<Counters, Add, number> = {
  initial: () => new Map(),
  apply: (state, { amount, name }) => {
    const value = (state.get(name) ?? 0) + amount
    return [new Map(state).set(name, value), value]
  },
  snapshot: (state) => Codec.pack([...state]),
  restore: (bytes) => new Map(Codec.unpack(bytes).pipe((r) => (r._tag === "Right" ? (r.right as Array<[string, number]>) : [])))
}

// 2. One node = a Transport, a LogStorage, a Raft node and the state machine, all in one Scope.
const ids = ["n1", "n2", "n3"]
const basePort = 7401
const peers = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${basePort + i}`]))
const dataDir = process.argv[2] ?? "./data/example-counter"

const startNode = (id: string) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const node = yield* Effect.gen(function*() {
      const raft = yield* Raft.make(RaftConfig.make({ id, peers: ids, electionTimeoutMs: 300, heartbeatIntervalMs: 50 }))
      return yield* Rsm.make(counters, { command: Add, snapshotLogBytes: 64 * 1024 }).pipe(Effect.provideService(Raft.Raft, raft))
    }).pipe(
      Effect.provideServiceEffect(Transport.Transport, Tcp.make({ self: id, listen: { port: Number(peers[id]!.split(":")[1]) }, peers })),
      Effect.provideServiceEffect(LogStorage.LogStorage, FileStorage.make({ dir: `${dataDir}/${id}` })),
      Scope.extend(scope)
    )
    return { id, scope, node }
  })

const findLeader = <N extends { readonly node: Rsm.ReplicatedStateMachine<Counters, Add, number> }>(nodes: ReadonlyArray<N>) =>
  Effect.gen(function*() {
    for (let attempt = 0; attempt < 100; attempt++) {
      for (const n of nodes) if ((yield* n.node.raft.status).role === "Leader") return n
      yield* Effect.sleep("50 millis")
    }
    return yield* Effect.dieMessage("no leader elected within 5 s")
  })

const program = Effect.gen(function*() {
  const nodes = yield* Effect.forEach(ids, startNode)
  const leader = yield* findLeader(nodes)
  const status = yield* leader.node.raft.status
  yield* Console.log(`leader: ${leader.id} (term ${status.term})`)

  for (let i = 0; i < 10; i++) yield* leader.node.execute({ name: i % 2 === 0 ? "apples" : "pears", amount: 1 })
  yield* Console.log(`apples = ${yield* leader.node.read((s) => s.get("apples"))}`)

  yield* Console.log(`stopping ${leader.id}`)
  yield* Scope.close(leader.scope, Exit.void)
  const survivors = nodes.filter((n) => n.id !== leader.id)
  const next = yield* findLeader(survivors)
  yield* Console.log(`new leader: ${next.id} (term ${(yield* next.node.raft.status).term})`)
  const pears = yield* next.node.execute({ name: "pears", amount: 100 })
  yield* Console.log(`pears = ${pears}`)
  yield* Console.log(`all counters: ${JSON.stringify([...(yield* next.node.read((s) => s))])}`)
  yield* Effect.forEach(survivors, (n) => Scope.close(n.scope, Exit.void))
})

Effect.runPromise(program.pipe(Effect.provide(NodeFileSystem.layer))).catch((e) => {
  console.error(String(e))
  process.exit(1)
})
