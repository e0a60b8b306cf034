/**
 * `concord-dist/check`: the linearizability checker alone (the checker, its models, the HTML view), for
 * a program that checks histories and needs nothing else of Concord.
 * @since 0.1.0
 */
export * as CheckModel from "./Model.js"
export * as History from "./History.js"
export * as HtmlView from "./HtmlView.js"
export * as KvModel from "./models/Kv.js"
export * as Linearizability from "./Linearizability.js"
export * as QueueModel from "./models/Queue.js"
export * as RegisterModel from "./models/Register.js"
export * as SetModel from "./models/Set.js"
