import { Effect, Metric, MetricBoundaries } from "effect"
import { describe, expect, it } from "vitest"
import * as Prometheus from "../../src/ops/Prometheus.js"
import { parse, value } from "../support/prometheus.js"

describe("Prometheus text format", () => {
  it("renders counters, gauges and histograms that a strict parser reads back, labels escaped", () => {
    const text = Prometheus.render([
      { name: "x_total", type: "counter", help: "a help\nwith a newline", samples: [{ labels: { node: "n\"1\\\n" }, value: 3 }] },
      { name: "g", type: "gauge", help: "g", samples: [{ labels: {}, value: -1.5 }, { labels: { a: "b" }, value: 2 }] },
      { name: "empty", type: "gauge", help: "no samples: left out", samples: [] },
      {
        name: "h_seconds",
        type: "histogram",
        help: "h",
        samples: [{ labels: { op: "put" }, value: { buckets: [[0.1, 1], [1, 3], [Infinity, 4]], count: 4, sum: 2.5 } }]
      }
    ])
    const families = parse(text)
    expect([...families.keys()]).toEqual(["x_total", "g", "h_seconds"])
    expect(families.get("x_total")!.samples[0]!.labels).toEqual({ node: "n\"1\\\n" })
    expect(value(families, "g")).toBe(0.5)
    expect(value(families, "h_seconds_bucket", { le: "1" })).toBe(3)
    expect(value(families, "h_seconds_count", { op: "put" })).toBe(4)
  })

  it("the parser refuses what Prometheus would", () => {
    const bad = [
      "x 1\n", // no TYPE
      "# TYPE x counter\n# TYPE x counter\nx 1\n",
      "# TYPE x counter\nx{a=\"1\" 1\n",
      "# TYPE x counter\nx{1a=\"1\"} 1\n",
      "# TYPE x counter\nx 1\nx 2\n",
      "# TYPE x counter\nx one\n",
      "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
      "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
      "# TYPE x gauge\nx 1"
    ]
    for (const text of bad) expect(() => parse(text), text).toThrow()
  })

  it("exports a node's Effect metrics, labelled by Effect.tagMetrics, apart from another node's", async () => {
    const c = Metric.counter("test_ops_things")
    const h = Metric.histogram("test_ops_seconds", MetricBoundaries.fromIterable([0.5, 1]))
    const pairs = await Effect.runPromise(Effect.gen(function*() {
      yield* Metric.incrementBy(c, 2).pipe(Effect.tagMetrics("node", "a"))
      yield* Metric.increment(c).pipe(Effect.tagMetrics("node", "b"))
      yield* Metric.update(h, 0.7).pipe(Effect.tagMetrics("node", "a"))
      return yield* Metric.snapshot
    }))
    const families = parse(Prometheus.render(Prometheus.fromMetrics(pairs, { node: "a" })))
    expect(families.get("test_ops_things_total")!.samples).toEqual([{ name: "test_ops_things_total", labels: { node: "a" }, value: 2 }])
    expect(value(families, "test_ops_seconds_bucket", { le: "0.5" })).toBe(0)
    expect(value(families, "test_ops_seconds_bucket", { le: "1" })).toBe(1)
    expect(value(families, "test_ops_seconds_count")).toBe(1)
  })
})
