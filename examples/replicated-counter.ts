/**
 * Replicate your own state machine with Concord's Raft: three nodes in one process, real loopback TCP,
 * real files (under ./data/example-counter, or the directory given as the first argument).
 *
 *   npx tsx examples/replicated-counter.ts
 *
 * Each node runs the `ReplicatedStateMachine` of named counters of examples/counters.ts. The program
 * waits for a leader, adds to the counters through it, stops the leader, lets the other two elect a
 * new one, keeps writing, and reads the result linearizably. Run it twice: the second run starts from
 * what the first one left on disk.
 */
import { NodeFileSystem } from "@effect/platform-node"
import { Console, Effect, Exit, Scope } from "effect"
import type { ReplicatedStateMachine } from "../src/index.js"
import { type Add, type Counters, startNode } from "./counters.js"

const ids = ["n1", "n2", "n3"]
const basePort = 7401
const peers = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${basePort + i}`]))
const dataDir = process.argv[2] ?? "./data/example-counter"

// One node in a scope of its own, so that the program can stop it.
const start = (id: string) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const node = yield* startNode(id, peers, `${dataDir}/${id}`).pipe(Scope.extend(scope))
    return { id, scope, node }
  })

const findLeader = <N extends { readonly node: ReplicatedStateMachine.ReplicatedStateMachine<Counters, Add, number> }>(
  nodes: ReadonlyArray<N>
) =>
  Effect.gen(function*() {
    for (let attempt = 0; attempt < 100; attempt++) {
      for (const n of nodes) if ((yield* n.node.raft.status).role === "Leader") return n
      yield* Effect.sleep("50 millis")
    }
    return yield* Effect.dieMessage("no leader elected within 5 s")
  })

const program = Effect.gen(function*() {
  const nodes = yield* Effect.forEach(ids, start)
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
