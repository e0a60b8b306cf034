/** Progress formatting: the bar, the log lines, throughput. */
import { Option } from "effect"
import { describe, expect, it } from "vitest"
import type { Status } from "../../src/mapreduce/Coordinator.js"
import * as Progress from "../../src/mapreduce/Progress.js"
import * as Scheduler from "../../src/mapreduce/Scheduler.js"

const config = Scheduler.makeConfig({ inputs: ["a.txt", "b.txt"], nReduce: 4 })

const status = (over: Partial<Scheduler.Progress> = {}, elapsedMs = 2500, inputBytesDone = 5_000_000): Status => ({
  progress: {
    phase: "Reduce",
    maps: { done: 2, running: 0, total: 2 },
    reduces: { done: 1, running: 2, total: 4 },
    attempts: 6,
    reexecutions: 1,
    backups: 0,
    failures: 0,
    workers: 3,
    ...over
  },
  elapsedMs,
  inputBytesDone,
  state: Scheduler.initial(config)
})

describe("Progress", () => {
  it("formats the bar: tasks, a bar of done/total, MB/s, re-executions, workers, time", () => {
    expect(Progress.formatBar(status(), 10)).toBe(
      "map 2/2  reduce 1/4  [#####-----]  2.0 MB/s  re-executions 1  workers 3  2.5s"
    )
    expect(Progress.formatBar(status({ failures: 2 }), 4)).toBe(
      "map 2/2  reduce 1/4  [##--]  2.0 MB/s  re-executions 1  failures 2  workers 3  2.5s"
    )
    expect(Progress.formatStatusLine(status())).toBe("[2.5s] map 2/2  reduce 1/4  2.0 MB/s  re-executions 1  workers 3")
  })

  it("throughput is 10^6 bytes per second, 0 before any time passed", () => {
    expect(Progress.mbPerSecond(3_000_000, 1500)).toBe(2)
    expect(Progress.mbPerSecond(3_000_000, 0)).toBe(0)
  })

  it("log lines for the notices worth one", () => {
    const line = (n: Scheduler.Notice) => Option.getOrUndefined(Progress.formatNotice(n, config))
    const map1 = { kind: "Map", index: 1 } as const
    expect(line({ _tag: "Expired", task: map1, attempt: 3, worker: "42" })).toBe(
      "map task 1 (b.txt): worker 42 did not finish within 10.0s; assigning it again"
    )
    const reduce2 = { kind: "Reduce", index: 2 } as const
    expect(line({ _tag: "AttemptFailed", task: reduce2, attempt: 4, worker: "7", error: "boom", failures: 1 })).toBe(
      "reduce task 2 failed on worker 7 (1/4): boom"
    )
    expect(line({ _tag: "Assigned", task: map1, attempt: 5, worker: "9", backup: true, reexecution: true })).toBe(
      "map task 1 (b.txt): straggler; backup attempt on worker 9"
    )
    const first = { _tag: "Assigned", task: map1, attempt: 5, worker: "9", backup: false, reexecution: false } as const
    expect(line(first)).toBeUndefined()
    expect(line({ _tag: "Completed", task: map1, attempt: 5, worker: "9", durationMs: 1 })).toBeUndefined()
    expect(line({ _tag: "PhaseDone", phase: "Map", atMs: 1 })).toBe("map phase done")
    expect(line({ _tag: "JobFailed", reason: "x" })).toBe("job failed: x")
  })
})
