// A state machine of named counters, replicated with Concord's Raft: one node over TCP and files.
// (examples/replicated-counter.ts runs three of them.)
import { Effect, Either, Schema } from "effect"
import { Codec, FileStorage, LogStorage, Raft, RaftConfig, ReplicatedStateMachine, Tcp, Transport } from "../src/index.js"

// Commands are Schema values: they are encoded into the log and decoded on every node.
export const Add = Schema.Struct({ name: Schema.String, amount: Schema.Int })
export type Add = typeof Add.Type
export type Counters = ReadonlyMap<string, number>

export const counters: ReplicatedStateMachine.StateMachine<Counters, Add, number> = {
  initial: () => new Map(),
  apply: (state, { amount, name }) => {
    const value = (state.get(name) ?? 0) + amount
    return [new Map(state).set(name, value), value]
  },
  snapshot: (state) => Codec.pack([...state]),
  restore: (bytes) => new Map(Codec.unpack(bytes).pipe(Either.getOrThrow) as Array<[string, number]>)
}

/** Node `id` of `peers` (id → host:port), its log and snapshots in `dir`, for as long as the scope lasts. */
export const startNode = (id: string, peers: Record<string, string>, dir: string) =>
  Effect.gen(function*() {
    const raft = yield* Raft.make(RaftConfig.make({ id, peers: Object.keys(peers), electionTimeoutMs: 300, heartbeatIntervalMs: 50 }))
    return yield* ReplicatedStateMachine.make(counters, { command: Add, snapshotLogBytes: 64 * 1024 }).pipe(
      Effect.provideService(Raft.Raft, raft)
    )
  }).pipe(
    Effect.provideServiceEffect(
      Transport.Transport,
      Tcp.make({ self: id, listen: { port: Number(peers[id]!.split(":")[1]) }, peers })
    ),
    Effect.provideServiceEffect(LogStorage.LogStorage, FileStorage.make({ dir }))
  )

// On the leader: `yield* node.execute({ name: "apples", amount: 1 })` returns the new count;
// on any node: `yield* node.read((state) => state.get("apples"))` is a linearizable read.
