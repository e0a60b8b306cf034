/**
 * `concord-dist/shard`: the shard controller and the sharded key/value service, the whole of them.
 * `CtrlNode` and `ShardKvNode` (real nodes, HTTP API included) are only here: the HTTP server takes as
 * long to load as the rest of Concord, so the main entry point leaves them out.
 * @since 0.1.0
 */
export * as ShardConfig from "../shardctrler/Config.js"
export * as Rebalance from "../shardctrler/Rebalance.js"
export * as CtrlStateMachine from "../shardctrler/CtrlStateMachine.js"
export * as CtrlServer from "../shardctrler/CtrlServer.js"
export * as CtrlClient from "../shardctrler/CtrlClient.js"
export * as CtrlNode from "../shardctrler/CtrlNode.js"
export * as ShardKvMessages from "./Messages.js"
export * as ShardStateMachine from "./ShardStateMachine.js"
export * as ShardKvServer from "./ShardKvServer.js"
export * as ShardKvClient from "./ShardKvClient.js"
export * as ShardKvNode from "./ShardKvNode.js"
