/**
 * The models other than KV, with known answers: the interface is generic (deterministic and
 * nondeterministic models, custom partitions).
 */
import { Data } from "effect"
import { describe, expect, it } from "vitest"
import type { History, Operation } from "../../src/check/History.js"
import * as Linearizability from "../../src/check/Linearizability.js"
import * as Model from "../../src/check/Model.js"
import * as Queue from "../../src/check/models/Queue.js"
import * as Register from "../../src/check/models/Register.js"
import * as SetModel from "../../src/check/models/Set.js"

const op = <I, O>(
  clientId: number,
  input: I,
  output: O | undefined,
  call: number,
  ret: number | undefined
): Operation<I, O> => ({
  clientId,
  input,
  output,
  call,
  return: ret
})
const verdict = <S, I, O>(model: Model.Model<S, I, O>, history: History<I, O>) =>
  Linearizability.checkHistory(model, history)._tag

describe("register", () => {
  type In = Register.RegisterInput<number>
  type Out = Register.RegisterOutput<number>
  const write = (c: number, value: number, call: number, ret: number | undefined) =>
    op<In, Out>(c, { op: "write", value }, {}, call, ret)
  const read = (c: number, value: number, call: number, ret: number) =>
    op<In, Out>(c, { op: "read" }, { value }, call, ret)
  const cas = (c: number, expected: number, value: number, ok: boolean | undefined, call: number, ret?: number) =>
    op<In, Out>(c, { op: "cas", expected, value }, ok === undefined ? undefined : { ok }, call, ret)

  it("Porcupine's README examples", () => {
    // C0: |---- put(100) ----|, C1: |- get -> 100 -|, C2: |- get -> 0 -| all overlapping: Ok.
    expect(verdict(Register.model, [write(0, 100, 0, 10), read(1, 100, 1, 8), read(2, 0, 2, 7)])).toBe("Ok")
    // C1 reads 200 and returns before C2 reads 0, all within the write: Illegal.
    expect(verdict(Register.model, [write(0, 200, 0, 10), read(1, 200, 1, 3), read(2, 0, 4, 7)])).toBe("Illegal")
  })

  it("compare-and-set", () => {
    expect(verdict(Register.model, [cas(0, 0, 5, true, 0, 1), read(1, 5, 2, 3)])).toBe("Ok")
    expect(verdict(Register.model, [cas(0, 1, 5, false, 0, 1), read(1, 0, 2, 3)])).toBe("Ok")
    expect(verdict(Register.model, [cas(0, 1, 5, true, 0, 1)])).toBe("Illegal")
    // Two concurrent cas(0 -> x): only one may succeed.
    expect(verdict(Register.model, [cas(0, 0, 1, true, 0, 10), cas(1, 0, 2, true, 0, 10)])).toBe("Illegal")
    expect(verdict(Register.model, [cas(0, 0, 1, true, 0, 10), cas(1, 0, 2, false, 0, 10), read(2, 1, 11, 12)]))
      .toBe("Ok")
    // A cas that never returned may or may not have swapped.
    expect(verdict(Register.model, [cas(0, 0, 7, undefined, 0, undefined), read(1, 7, 5, 6)])).toBe("Ok")
    expect(verdict(Register.model, [cas(0, 0, 7, undefined, 0, undefined), read(1, 0, 5, 6)])).toBe("Ok")
  })

  it("works for any value type with Equal semantics", () => {
    class Point extends Data.Class<{ x: number; y: number }> {}
    const points = Register.make({ initial: new Point({ x: 0, y: 0 }) })
    const h: History<Register.RegisterInput<Point>, Register.RegisterOutput<Point>> = [
      op(0, { op: "write", value: new Point({ x: 1, y: 2 }) }, {}, 0, 1),
      op(1, { op: "read" }, { value: new Point({ x: 1, y: 2 }) }, 2, 3)
    ]
    expect(verdict(points, h)).toBe("Ok")
    expect(verdict(points, [h[0]!, op(1, { op: "read" }, { value: new Point({ x: 2, y: 1 }) }, 2, 3)])).toBe("Illegal")
  })
})

describe("queue", () => {
  type In = Queue.QueueInput<number>
  type Out = Queue.QueueOutput<number>
  const enq = (c: number, value: number, call: number, ret: number) =>
    op<In, Out>(c, { op: "enqueue", value }, {}, call, ret)
  const deq = (c: number, value: number | undefined, call: number, ret: number | undefined) =>
    op<In, Out>(c, { op: "dequeue" }, ret === undefined ? undefined : value === undefined ? {} : { value }, call, ret)

  it("is FIFO", () => {
    expect(verdict(Queue.model, [enq(0, 1, 0, 1), enq(0, 2, 2, 3), deq(1, 1, 4, 5), deq(1, 2, 6, 7)])).toBe("Ok")
    expect(verdict(Queue.model, [enq(0, 1, 0, 1), enq(0, 2, 2, 3), deq(1, 2, 4, 5)])).toBe("Illegal")
  })

  it("orders concurrent enqueues either way, but consistently", () => {
    const both = [enq(0, 1, 0, 10), enq(1, 2, 0, 10)]
    expect(verdict(Queue.model, [...both, deq(2, 2, 11, 12), deq(2, 1, 13, 14)])).toBe("Ok")
    expect(verdict(Queue.model, [...both, deq(2, 2, 11, 12), deq(2, 2, 13, 14)])).toBe("Illegal")
  })

  it("dequeues nothing from an empty queue", () => {
    expect(verdict(Queue.model, [deq(0, undefined, 0, 1)])).toBe("Ok")
    expect(verdict(Queue.model, [enq(0, 1, 0, 1), deq(1, undefined, 2, 3)])).toBe("Illegal")
    // Concurrent with the enqueue, the empty dequeue can come first.
    expect(verdict(Queue.model, [enq(0, 1, 0, 10), deq(1, undefined, 2, 3), deq(1, 1, 11, 12)])).toBe("Ok")
  })

  it("a dequeue that never returned may have removed the head", () => {
    const lost = [enq(0, 1, 0, 1), enq(0, 2, 2, 3), deq(1, undefined, 4, undefined)]
    expect(verdict(Queue.model, [...lost, deq(2, 2, 10, 11)])).toBe("Ok")
    expect(verdict(Queue.model, [...lost, deq(2, 1, 10, 11)])).toBe("Ok")
  })
})

describe("set (nondeterministic take)", () => {
  type Out = SetModel.SetOutput
  const add = (c: number, value: string, ok: boolean, call: number, ret: number) =>
    op<SetModel.SetInput, Out>(c, { op: "add", value }, { ok }, call, ret)
  const has = (c: number, value: string, ok: boolean, call: number, ret: number) =>
    op<SetModel.SetInput, Out>(c, { op: "contains", value }, { ok }, call, ret)
  const take = (c: number, value: string | undefined, call: number, ret: number | undefined) =>
    op<SetModel.SetInput, Out>(c, { op: "take" }, ret === undefined ? undefined : { value }, call, ret)

  it("add, contains, remove", () => {
    expect(verdict(SetModel.model, [add(0, "a", true, 0, 1), add(0, "a", false, 2, 3), has(1, "a", true, 4, 5)]))
      .toBe("Ok")
    expect(verdict(SetModel.model, [add(0, "a", true, 0, 1), add(0, "a", true, 2, 3)])).toBe("Illegal")
    expect(verdict(SetModel.model, [
      add(0, "a", true, 0, 1),
      op(0, { op: "remove", value: "a" }, { ok: true }, 2, 3),
      has(1, "a", false, 4, 5)
    ])).toBe("Ok")
  })

  it("a known take removes what it returned", () => {
    const ab = [add(0, "a", true, 0, 1), add(0, "b", true, 2, 3)]
    expect(verdict(SetModel.model, [...ab, take(1, "b", 4, 5), has(2, "a", true, 6, 7), has(2, "b", false, 8, 9)]))
      .toBe("Ok")
    expect(verdict(SetModel.model, [...ab, take(1, "c", 4, 5)])).toBe("Illegal")
    expect(verdict(SetModel.model, [take(1, undefined, 0, 1)])).toBe("Ok")
  })

  it("a take that never returned removed one member, whichever, or none", () => {
    const ab = [add(0, "a", true, 0, 1), add(0, "b", true, 2, 3), take(1, undefined, 4, undefined)]
    // Either member may be gone ...
    expect(verdict(SetModel.model, [...ab, has(2, "a", false, 10, 11), has(2, "b", true, 12, 13)])).toBe("Ok")
    expect(verdict(SetModel.model, [...ab, has(2, "b", false, 10, 11), has(2, "a", true, 12, 13)])).toBe("Ok")
    // ... or neither (it may not have taken effect) ...
    expect(verdict(SetModel.model, [...ab, has(2, "a", true, 10, 11), has(2, "b", true, 12, 13)])).toBe("Ok")
    // ... but not both.
    expect(verdict(SetModel.model, [...ab, has(2, "a", false, 10, 11), has(2, "b", false, 12, 13)])).toBe("Illegal")
  })

  it("describes sets of possible states", () => {
    const [, s] = SetModel.model.step([["a", "b"]], { op: "take" }, undefined)
    expect(Model.describeState(SetModel.model, s)).toBe(`{{"b"} | {"a"}}`)
  })
})

describe("the Model interface", () => {
  // A counter per key, partitioned by a custom function: "inc" adds one, "read" returns the count.
  type In = { readonly key: string; readonly op: "inc" | "read" }
  const counters: Model.Model<number, In, number> = {
    name: "counters",
    initial: 0,
    step: (n, input, output) => (input.op === "inc" ? [true, n + 1] : [output === undefined || output === n, n]),
    partition: Model.partitionBy((input) => input.key)
  }

  it("partitions with the model's partition function and reports each partition", () => {
    const h: History<In, number> = [
      op<In, number>(0, { key: "b", op: "inc" }, undefined, 0, 1),
      op<In, number>(0, { key: "a", op: "inc" }, undefined, 0, 1),
      op<In, number>(1, { key: "a", op: "read" }, 1, 2, 3),
      op<In, number>(1, { key: "b", op: "read" }, 2, 2, 3)
    ]
    const result = Linearizability.checkHistory(counters, h)
    expect(result._tag).toBe("Illegal")
    expect(result.partitions.map((p) => [p.label, p.ops, p.status])).toEqual([
      ["a", [1, 2], "Ok"],
      ["b", [0, 3], "Illegal"]
    ])
  })

  it("uses defaults for equality and descriptions", () => {
    const { partition: _, ...single } = counters
    const h: History<In, number> = [
      op<In, number>(0, { key: "a", op: "inc" }, undefined, 0, 1),
      op<In, number>(1, { key: "a", op: "read" }, 2, 2, 3)
    ]
    const result = Linearizability.checkHistory(single, h)
    expect(result.partitions.map((p) => p.label)).toEqual([""])
    expect(Linearizability.explain(single, h, result))
      .toContain(`illegal next: client 1: {"key":"a","op":"read"} → 2`)
  })

  it("rejects a partition that names operations outside the history", () => {
    const broken = { ...counters, partition: () => [{ label: "x", ops: [5] }] }
    const h = [op<In, number>(0, { key: "a", op: "inc" }, undefined, 0, 1)]
    expect(() => Linearizability.checkHistory(broken, h)).toThrow(/outside the history/)
  })

  it("nondeterministic: legal while some state remains, states compared as sets", () => {
    // A coin: "flip" lands on either side unless its output says which.
    const coin = Model.nondeterministic<string, "flip" | "look", string>({
      name: "coin",
      initial: ["heads"],
      step: (s, input, output) =>
        input === "flip"
          ? (output === undefined ? ["heads", "tails"] : [output])
          : output === undefined || output === s ? [s] : []
    })
    expect(coin.equals!(["heads", "tails"], ["tails", "heads"])).toBe(true)
    expect(coin.equals!(["heads"], ["tails", "heads"])).toBe(false)
    const flip = op<"flip" | "look", string>(0, "flip", undefined, 0, undefined)
    expect(verdict(coin, [flip, op(1, "look", "tails", 5, 6), op(1, "look", "tails", 7, 8)])).toBe("Ok")
    expect(verdict(coin, [flip, op(1, "look", "tails", 5, 6), op(1, "look", "heads", 7, 8)])).toBe("Illegal")
  })
})
