/** The deadline watcher behind server deadlines: order, removal, and an expiry that throws. */
import { it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { describe, expect } from "vitest"
import * as Watcher from "../../src/rpc/internal/watcher.js"

describe("deadline watcher", () => {
  it.scoped("expires in arrival order after its timeout, not removed tickets, and goes on after an expiry throws", () =>
    Effect.gen(function*() {
      const w = yield* Watcher.make(100)
      const expired: Array<string> = []
      w.add(() => expired.push("a"))
      const b = w.add(() => expired.push("b"))
      yield* TestClock.adjust("50 millis")
      w.add(() => {
        throw new Error("boom")
      })
      w.add(() => expired.push("d"))
      expect(w.remove(b)).toBe(true)
      yield* TestClock.adjust("49 millis")
      expect(expired).toEqual([])
      yield* TestClock.adjust("1 millis")
      expect(expired).toEqual(["a"])
      yield* TestClock.adjust("50 millis")
      expect(expired).toEqual(["a", "d"])
      // Idle, then used again.
      yield* TestClock.adjust("1 second")
      w.add(() => expired.push("e"))
      yield* TestClock.adjust("100 millis")
      expect(expired).toEqual(["a", "d", "e"])
      expect(w.remove(b)).toBe(false)
    }))
})
