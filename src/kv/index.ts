/**
 * `concord-dist/kv`: the key/value service, the whole of it. `KvNode` (one real node, HTTP API included)
 * is only here: the HTTP server it needs takes as long to load as the rest of Concord, so the main
 * entry point leaves it out.
 * @since 0.1.0
 */
export * as KvClient from "./KvClient.js"
export * as KvNode from "./KvNode.js"
export * as KvServer from "./KvServer.js"
export * as KvStateMachine from "./KvStateMachine.js"
export * as HttpKit from "../http/HttpKit.js"
