/**
 * Concord: fault-tolerant distributed systems on Effect.
 *
 * Every module as a namespace, except `KvNode`: one real KV node needs an HTTP server, which takes as
 * long to load as all of this, so it is in `concord-dist/kv`. The sub-entry points `concord-dist/kv`,
 * `concord-dist/check` and `concord-dist/mapreduce` load only their part (see package.json `exports`);
 * `npm run bench -- import` times each.
 * @since 0.1.0
 */
export * as Codec from "./codec/Codec.js"
export * as SimNetwork from "./rpc/SimNetwork.js"
export * as Tcp from "./rpc/Tcp.js"
export * as Transport from "./rpc/Transport.js"
export * as Simulation from "./sim/Simulation.js"
export * as LogStorage from "./raft/LogStorage.js"
export * as MemoryStorage from "./storage/MemoryStorage.js"
export * as FileStorage from "./storage/FileStorage.js"
export * as Raft from "./raft/Raft.js"
export * as RaftConfig from "./raft/RaftConfig.js"
export * as RaftMessages from "./raft/Messages.js"
export * as Linearizability from "./check/Linearizability.js"
export * as CheckModel from "./check/Model.js"
export * as History from "./check/History.js"
export * as HtmlView from "./check/HtmlView.js"
export * as KvModel from "./check/models/Kv.js"
export * as RegisterModel from "./check/models/Register.js"
export * as QueueModel from "./check/models/Queue.js"
export * as SetModel from "./check/models/Set.js"
export * as MapReduce from "./mapreduce/index.js"
export * as MemoryFileSystem from "./sim/MemoryFileSystem.js"
export * as KvStateMachine from "./kv/KvStateMachine.js"
export * as KvServer from "./kv/KvServer.js"
export * as KvClient from "./kv/KvClient.js"
export * as ReplicatedStateMachine from "./raft/ReplicatedStateMachine.js"
export * as Sessions from "./replica/Sessions.js"
export * as Clerk from "./replica/Clerk.js"
export * as ReplicaMessages from "./replica/Messages.js"
export * as Deadlines from "./replica/Deadlines.js"
export * as Answer from "./replica/Answer.js"
export * as KvLimits from "./kv/Limits.js"
export * as ShardConfig from "./shardctrler/Config.js"
export * as Rebalance from "./shardctrler/Rebalance.js"
export * as CtrlStateMachine from "./shardctrler/CtrlStateMachine.js"
export * as CtrlServer from "./shardctrler/CtrlServer.js"
export * as CtrlClient from "./shardctrler/CtrlClient.js"
export * as ShardKvMessages from "./shardkv/Messages.js"
export * as ShardStateMachine from "./shardkv/ShardStateMachine.js"
export * as ShardKvServer from "./shardkv/ShardKvServer.js"
export * as ShardKvClient from "./shardkv/ShardKvClient.js"
