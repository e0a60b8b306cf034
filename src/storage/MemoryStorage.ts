/**
 * The memory `LogStorage` Layer, for simulation: a `LogModel` behind the service's interface. Built
 * outside a node's scope, its contents survive the node's "crash" (the scope closing) exactly as a
 * disk would; `copy` gives a restarted node a fresh copy, as the 6.824 harness does with its persister.
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import { LogStorage, type LogStorageShape } from "../raft/LogStorage.js"
import { LogModel } from "./internal/LogModel.js"

/** An in-memory storage, plus `copy` (the 6.824 harness hands a restarted node a copy of its persister). */
export interface MemoryStorage extends LogStorageShape {
  /** A new, independent storage with the same contents. */
  readonly copy: Effect.Effect<MemoryStorage>
}

const fromModel = (model: LogModel): MemoryStorage => {
  let writes = 0
  return {
    load: Effect.sync(() => model.persisted()),
    append: (entries, hardState) =>
      Effect.sync(() => {
        const bad = model.checkAppend(entries)
        if (bad !== undefined) throw new Error(`LogStorage: ${bad}`)
        model.append(entries, hardState)
        writes++
      }),
    setHardState: (hs) =>
      Effect.sync(() => {
        model.setHardState(hs)
        writes++
      }),
    installSnapshot: (snapshot, options) =>
      Effect.sync(() => {
        model.installSnapshot(snapshot, options?.discardLog === true)
        writes++
      }),
    snapshot: Effect.sync(() => model.snapshot),
    sizes: Effect.sync(() => model.sizes()),
    counters: Effect.sync(() => ({ writes, fsyncs: 0, bytesWritten: 0 })),
    copy: Effect.sync(() => fromModel(model.copy()))
  }
}

/** A new, empty in-memory storage. */
export const make: Effect.Effect<MemoryStorage> = Effect.sync(() => fromModel(new LogModel()))

/** An empty in-memory storage as a Layer. */
export const layer: Layer.Layer<LogStorage> = Layer.effect(LogStorage, make)
