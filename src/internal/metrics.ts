/**
 * Metric updates on hot paths.
 *
 * `Metric.update` on a metric that carries tags (`Metric.tagged`, or `Effect.tagMetrics` around it)
 * builds the union of its tags on every update, and the registry lookup that follows cannot cache an
 * array it has never seen: a new `MetricKey` is made and hashed (its description JSON-formatted) per
 * update. On a leader at 256 puts in flight that was ~6% of its CPU. A `Bound` metric resolves its
 * full key (name and every label) once; an update is then one registry-cached hook call. The values
 * still live in Effect's global registry, so `Metric.snapshot` (and `/metrics`) see them unchanged.
 * @internal
 */
import { Effect, FiberRef, Metric, MetricKey, type MetricKeyType, type MetricLabel, RuntimeFlags, RuntimeFlagsPatch } from "effect"

/** A metric whose every label is fixed: `update` is synchronous and allocates nothing. */
export interface Bound {
  readonly update: (value: number) => void
}

const NO_TAGS: ReadonlyArray<MetricLabel.MetricLabel> = []

/** Binds `key` (a counter or histogram key) to `labels`. */
export const bind = (
  key: MetricKey.MetricKey<MetricKeyType.MetricKeyType<number, any>>,
  labels: ReadonlyArray<MetricLabel.MetricLabel>
): Bound => {
  const metric = Metric.fromMetricKey(MetricKey.taggedWithLabels(key, labels)) as Metric.Metric<any, number, any>
  return { update: (value) => metric.unsafeUpdate(value, NO_TAGS) }
}

/** The labels `Effect.tagMetrics` has put on the current fiber (e.g. a node's id), to bind with. */
export const currentLabels: Effect.Effect<ReadonlyArray<MetricLabel.MetricLabel>> = FiberRef.get(FiberRef.currentMetricLabels)

/**
 * Runs `self` (and every fiber it forks) without Effect's runtime metrics. Effect's default runtime
 * counts every fiber's start and end in four metrics (`effect_fiber_started`, `_active`, `_successes`,
 * `_lifetimes`), labelled with the fiber's metric tags. Under `Effect.tagMetrics` (a node's id) each of
 * those updates builds a new tagged key (see above): a server forks fibers per request and per
 * message, and on a follower that bookkeeping was ~5% of its CPU. Our metrics do not use them.
 */
export const withoutFiberMetrics = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withRuntimeFlagsPatch(self, noFiberMetrics)

const noFiberMetrics = RuntimeFlagsPatch.disable(RuntimeFlags.RuntimeMetrics)
