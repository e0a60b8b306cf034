/**
 * MapReduce (MIT 6.824 lab 1) as a library: `MapReduce.Coordinator.make`, `MapReduce.Worker.run`,
 * `MapReduce.Sequential.run`, apps through `MapReduce.App`, the pure `MapReduce.Scheduler`.
 * @since 0.1.0
 */
export * as App from "./App.js"
export * as Coordinator from "./Coordinator.js"
export * as Messages from "./Messages.js"
export * as Progress from "./Progress.js"
export * as Scheduler from "./Scheduler.js"
export * as Sequential from "./Sequential.js"
export * as Worker from "./Worker.js"
