import { Effect } from "effect"
import * as MemoryStorage from "../../src/storage/MemoryStorage.js"
import { storageSuite } from "./suite.js"

// One memory storage per test, shared by every open: it outlives the node scopes, as a disk would.
storageSuite("memory", () => Effect.map(MemoryStorage.make, (storage) => ({ open: Effect.succeed(storage) })))
