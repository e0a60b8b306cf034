import { Effect } from "effect"
import * as LogStorage from "../../src/storage/LogStorage.js"
import { storageSuite } from "./suite.js"

// One memory storage per test, shared by every open: it outlives the node scopes, as a disk would.
storageSuite("memory", () => Effect.map(LogStorage.makeMemory, (storage) => ({ open: Effect.succeed(storage) })))
