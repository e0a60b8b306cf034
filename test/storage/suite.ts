/**
 * The LogStorage behavioural suite: every Layer must pass it. A harness opens the storage in a scope;
 * closing that scope and opening again is a restart (for memory, the same contents; for files, a
 * reopen of the same directory).
 */
import { it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import * as fc from "fast-check"
import { describe, expect } from "vitest"
import type { LogEntry, Snapshot } from "../../src/raft/core/types.js"
import type { LogStorageShape } from "../../src/raft/LogStorage.js"
import { entryBytes, hardStateBytes, LogModel } from "../../src/storage/internal/LogModel.js"

export interface StorageHarness {
  /** Opens the storage under test (the same underlying data on every call within one test). */
  readonly open: Effect.Effect<LogStorageShape, unknown, Scope.Scope>
}

const bytes = (...xs: ReadonlyArray<number>) => new Uint8Array(xs)
export const entry = (index: number, term: number, data: Uint8Array = bytes(index % 256)): LogEntry => ({
  index,
  term,
  kind: 0,
  data
})
const range = (from: number, to: number, term: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => entry(from + i, term))

/** Runs `body` with a storage opened in a scope that is closed afterwards ("the node stops"). */
export const withOpen = <A, E>(
  harness: StorageHarness,
  body: (s: LogStorageShape) => Effect.Effect<A, E>
): Effect.Effect<A, unknown> =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const storage = yield* Scope.extend(harness.open, scope)
    const result = yield* Effect.exit(body(storage))
    yield* Scope.close(scope, Exit.void)
    return yield* result
  })

export const storageSuite = (name: string, makeHarness: () => Effect.Effect<StorageHarness, unknown, Scope.Scope>) =>
  describe(`LogStorage behaviour: ${name}`, () => {
    const test = (title: string, body: (h: StorageHarness) => Effect.Effect<void, unknown>) =>
      it.scopedLive(title, () => Effect.flatMap(makeHarness(), body))

    test("starts empty", (h) =>
      withOpen(h, (s) =>
        Effect.gen(function*() {
          const p = yield* s.load
          expect(p).toEqual({ hardState: { term: 0, vote: null, commit: 0 }, snapshot: undefined, entries: [] })
          expect(yield* s.snapshot).toBeUndefined()
          expect((yield* s.sizes).snapshotBytes).toBe(0)
        })))

    test("appends and hard state survive a restart; sizes follow the shared formula", (h) =>
      Effect.gen(function*() {
        const hs = { term: 3, vote: "n2", commit: 4 }
        yield* withOpen(h, (s) =>
          Effect.gen(function*() {
            yield* s.append(range(1, 3, 1))
            yield* s.append(range(4, 6, 3), hs)
          }))
        yield* withOpen(h, (s) =>
          Effect.gen(function*() {
            const p = yield* s.load
            expect(p.hardState).toEqual(hs)
            expect(p.entries.map((e) => [e.index, e.term])).toEqual([[1, 1], [2, 1], [3, 1], [4, 3], [5, 3], [6, 3]])
            expect(Array.from(p.entries[4]!.data)).toEqual([5])
            const expected = hardStateBytes(hs) + p.entries.reduce((n, e) => n + entryBytes(e), 0)
            expect((yield* s.sizes).logBytes).toBe(expected)
          }))
      }))

    test("an append replaces a conflicting suffix", (h) =>
      withOpen(h, (s) =>
        Effect.gen(function*() {
          yield* s.append(range(1, 5, 1))
          yield* s.append([entry(3, 2), entry(4, 2)])
          expect((yield* s.load).entries.map((e) => [e.index, e.term])).toEqual([[1, 1], [2, 1], [3, 2], [4, 2]])
        })).pipe(Effect.zipRight(withOpen(h, (s) =>
          Effect.map(s.load, (p) => expect(p.entries.map((e) => e.term)).toEqual([1, 1, 2, 2]))))))

    test("a snapshot compacts the prefix and keeps the rest; discardLog drops everything", (h) =>
      Effect.gen(function*() {
        const snap: Snapshot = { index: 3, term: 1, data: bytes(9, 9, 9) }
        yield* withOpen(h, (s) =>
          Effect.gen(function*() {
            yield* s.append(range(1, 6, 1), { term: 1, vote: null, commit: 6 })
            yield* s.installSnapshot(snap)
            expect((yield* s.load).entries.map((e) => e.index)).toEqual([4, 5, 6])
            expect((yield* s.sizes).snapshotBytes).toBe(3)
            yield* s.append([entry(7, 2)])
          }))
        yield* withOpen(h, (s) =>
          Effect.gen(function*() {
            const p = yield* s.load
            expect(p.snapshot).toEqual(snap)
            expect(p.entries.map((e) => e.index)).toEqual([4, 5, 6, 7])
            yield* s.installSnapshot({ index: 5, term: 2, data: bytes(1) }, { discardLog: true })
            expect((yield* s.load).entries).toEqual([])
          }))
        yield* withOpen(h, (s) =>
          Effect.gen(function*() {
            const p = yield* s.load
            expect(p.snapshot?.index).toBe(5)
            expect(p.entries).toEqual([])
            // The log continues right after the snapshot.
            yield* s.append([entry(6, 2)])
            expect((yield* s.load).entries.map((e) => e.index)).toEqual([6])
          }))
      }))

    test("an older snapshot than the current one is ignored", (h) =>
      withOpen(h, (s) =>
        Effect.gen(function*() {
          yield* s.append(range(1, 10, 1))
          yield* s.installSnapshot({ index: 8, term: 1, data: bytes(8) })
          yield* s.installSnapshot({ index: 4, term: 1, data: bytes(4) })
          expect((yield* s.snapshot)?.index).toBe(8)
          expect((yield* s.load).entries.map((e) => e.index)).toEqual([9, 10])
        })))

    test("an append that would leave a gap or overlap the snapshot is a defect", (h) =>
      withOpen(h, (s) =>
        Effect.gen(function*() {
          yield* s.append(range(1, 3, 1))
          const gap = yield* Effect.exit(s.append([entry(5, 1)]))
          expect(Exit.isFailure(gap) && Exit.causeOption(gap).pipe((c) => c._tag === "Some")).toBe(true)
          expect(gap._tag === "Failure" && gap.cause._tag).toBe("Die")
          yield* s.installSnapshot({ index: 2, term: 1, data: bytes() })
          const overlap = yield* Effect.exit(s.append([entry(2, 1)]))
          expect(overlap._tag === "Failure" && overlap.cause._tag).toBe("Die")
          expect((yield* s.load).entries.map((e) => e.index)).toEqual([3])
        })))

    it.scopedLive("random operation sequences match the reference model across restarts", () =>
      Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.array(
              fc.oneof(
                fc.record({ op: fc.constant("append" as const), back: fc.nat(4), count: fc.integer({ min: 1, max: 4 }), term: fc.nat(5) }),
                fc.record({ op: fc.constant("hard" as const), term: fc.nat(9), commit: fc.nat(50) }),
                fc.record({ op: fc.constant("snap" as const), back: fc.nat(6), discard: fc.boolean() }),
                fc.record({ op: fc.constant("restart" as const) })
              ),
              { maxLength: 25 }
            ),
            (ops) =>
              Effect.runPromise(Effect.scoped(Effect.gen(function*() {
                const h = yield* makeHarness()
                const model = new LogModel()
                let scope = yield* Scope.make()
                let s = yield* Scope.extend(h.open, scope)
                let term = 1
                for (const op of ops) {
                  if (op.op === "append") {
                    const from = Math.max(model.firstIndex, model.lastIndex + 1 - op.back)
                    term = Math.max(term, op.term)
                    const es = range(from, from + op.count - 1, term)
                    model.append(es)
                    yield* s.append(es)
                  } else if (op.op === "hard") {
                    const hs = { term: op.term, vote: op.term % 2 === 0 ? null : `n${op.term}`, commit: op.commit }
                    model.setHardState(hs)
                    yield* s.setHardState(hs)
                  } else if (op.op === "snap") {
                    const index = model.lastIndex - op.back
                    if (index < model.firstIndex) continue
                    const snap = { index, term, data: bytes(index % 256, 1, 2) }
                    model.installSnapshot(snap, op.discard)
                    yield* s.installSnapshot(snap, { discardLog: op.discard })
                  } else {
                    yield* Scope.close(scope, Exit.void)
                    scope = yield* Scope.make()
                    s = yield* Scope.extend(h.open, scope)
                  }
                  const p = yield* s.load
                  expect(p.hardState).toEqual(model.hardState)
                  expect(p.snapshot?.index).toEqual(model.snapshot?.index)
                  expect(p.entries.map((e) => [e.index, e.term])).toEqual(model.entries.map((e) => [e.index, e.term]))
                  const sizes = yield* s.sizes
                  const want = model.sizes()
                  expect([sizes.logBytes, sizes.snapshotBytes]).toEqual([want.logBytes, want.snapshotBytes])
                }
                yield* Scope.close(scope, Exit.void)
              })))
          ),
          { numRuns: 40 }
        )
      ), 60_000)
  })
