/**
 * Concord: fault-tolerant distributed systems on Effect.
 * @since 0.1.0
 */
export * as Codec from "./rpc/Codec.js"
export * as SimNetwork from "./rpc/SimNetwork.js"
export * as Tcp from "./rpc/Tcp.js"
export * as Transport from "./rpc/Transport.js"
export * as Simulation from "./sim/Simulation.js"
export * as LogStorage from "./storage/LogStorage.js"
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
