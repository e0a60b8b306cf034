/** `Metrics.instrument`: every request counted by service, op and outcome, a deadline's answer included. */
import { it } from "@effect/vitest"
import { Effect, Metric, MetricLabel } from "effect"
import { describe, expect } from "vitest"
import * as Metrics from "../../src/ops/Metrics.js"
import * as Tcp from "../../src/rpc/Tcp.js"
import { Divide, Echo, Slow, TestProtocol, testHandlers, TooSlow } from "../rpc/protocol.js"

/** The value of `concord_requests_total` for one node, op and outcome (0 if absent). */
const count = (node: string, op: string, outcome: string) =>
  Effect.map(Metric.snapshot, (pairs) => {
    for (const p of pairs) {
      if (p.metricKey.name !== Metrics.requestsKey.name) continue
      const labels = new Map(p.metricKey.tags.map((t) => [t.key, t.value]))
      if (labels.get("node") === node && labels.get("op") === op && labels.get("outcome") === outcome) {
        return (p.metricState as unknown as { readonly count: number }).count
      }
    }
    return 0
  })

describe("Metrics.instrument", () => {
  it.scopedLive("counts ok, typed failures, and requests the deadline answered under the failure they got", () =>
    Effect.gen(function*() {
      const node = "metrics-test"
      const raw = yield* Tcp.make({ self: node, listen: {} })
      const served = Metrics.instrument(raw, [MetricLabel.make("node", node)])
      yield* served.serve(TestProtocol, testHandlers(), {
        deadline: { ms: 100, onTimeout: (r) => r._tag === "Slow" ? new TooSlow({ ms: r.ms }) : undefined }
      })
      expect(yield* raw.call(node, new Echo({ text: "a" }))).toBe("a")
      expect((yield* Effect.flip(raw.call(node, new Divide({ a: 1, b: 0 }))))._tag).toBe("DivideByZero")
      expect(yield* Effect.flip(raw.call(node, new Slow({ ms: 10_000 })))).toEqual(new TooSlow({ ms: 10_000 }))
      yield* Effect.sleep("50 millis") // the interrupted handler's exit is counted as it ends
      expect(yield* count(node, "Echo", "ok")).toBe(1)
      expect(yield* count(node, "Divide", "DivideByZero")).toBe(1)
      expect(yield* count(node, "Slow", "TooSlow")).toBe(1)
      expect(yield* count(node, "Slow", "interrupted")).toBe(0)
    }))
})
