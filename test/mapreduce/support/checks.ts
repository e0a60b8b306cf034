/**
 * test-mr.sh's pass conditions, on the sorted, non-blank output lines (`sort mr-out* | grep .`).
 * Shared by the simulated and the real-process runs of the scenarios.
 */
import { expect } from "vitest"

/** map parallelism: exactly 2 `times-` lines (2 workers ran maps) and some `parallel... 2` (at the same time). */
export const checkMapParallelism = (lines: ReadonlyArray<string>) => {
  expect(lines.filter((l) => l.startsWith("times-")), "times- lines").toHaveLength(2)
  expect(lines.some((l) => /^parallel.* 2/.test(l)), `a parallel line with 2 in:\n${lines.join("\n")}`).toBe(true)
}

/** reduce parallelism: at least 2 reduce keys saw 2 workers at once. */
export const checkReduceParallelism = (lines: ReadonlyArray<string>) => {
  expect(lines.filter((l) => /^[a-z] 2/.test(l)).length, `lines:\n${lines.join("\n")}`).toBeGreaterThanOrEqual(2)
}

/** job count: the count of map executions is exactly 8. */
export const checkJobCount = (lines: ReadonlyArray<string>) => {
  expect(lines.map((l) => l.split(" ")[1])).toEqual(["8"])
}
