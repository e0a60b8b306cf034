/**
 * The pure scheduler: phases, leases, completion, duplicates, failures, backup tasks, counters.
 * Events are fed by hand with explicit times; no network, no clock.
 */
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Scheduler from "../../src/mapreduce/Scheduler.js"

const inputs = ["a.txt", "b.txt", "c.txt"]
const make = (overrides: Partial<Scheduler.Config> = {}, n = inputs) =>
  Scheduler.initial(Scheduler.makeConfig({ inputs: n, nReduce: 2, ...overrides }))

/** A tiny driver: keeps the state, feeds events, records notices. */
class Driver {
  notices: Array<Scheduler.Notice> = []
  constructor(public state: Scheduler.State) {}
  poll(now: number, worker: string) {
    const s = Scheduler.poll(this.state, now, worker)
    this.state = s.state
    this.notices.push(...s.notices)
    return s.reply
  }
  /** Polls and expects a task; returns it. */
  take(now: number, worker: string) {
    const a = this.poll(now, worker)
    if (a._tag !== "Task") throw new Error(`expected a task for ${worker} at ${now}, got ${a._tag}`)
    return a
  }
  done(
    now: number,
    worker: string,
    a: { task: Scheduler.TaskId; attempt: number },
    counters: Scheduler.Counters = {},
    stats: Scheduler.Counters = {}
  ) {
    const s = Scheduler.report(this.state, {
      _tag: "Report",
      now,
      worker,
      task: a.task,
      attempt: a.attempt,
      outcome: { _tag: "Succeeded", counters, stats }
    })
    this.state = s.state
    this.notices.push(...s.notices)
    return s.reply
  }
  fail(now: number, worker: string, a: { task: Scheduler.TaskId; attempt: number }, error = "boom") {
    const outcome = { _tag: "Failed", error } as const
    const s = Scheduler.report(this.state, { _tag: "Report", now, worker, task: a.task, attempt: a.attempt, outcome })
    this.state = s.state
    this.notices.push(...s.notices)
    return s.reply
  }
  tick(now: number) {
    const s = Scheduler.tick(this.state, now)
    this.state = s.state
    this.notices.push(...s.notices)
  }
  tags() {
    return this.notices.map((n) => n._tag)
  }
}

const noBackup = { backup: undefined }

describe("Scheduler", () => {
  it("assigns every map task once, then waits, then reduce tasks, then tells workers to exit", () => {
    const d = new Driver(make(noBackup))
    const m0 = d.take(0, "w1")
    expect(m0).toMatchObject({ task: { kind: "Map", index: 0 }, file: "a.txt", nMap: 3, nReduce: 2, backup: false })
    const m1 = d.take(1, "w2")
    const m2 = d.take(2, "w3")
    expect([m1.task.index, m2.task.index]).toEqual([1, 2])
    expect(d.poll(3, "w4")).toEqual({ _tag: "Wait" })
    expect(d.done(5, "w1", m0)).toBe("Accepted")
    expect(d.done(6, "w2", m1)).toBe("Accepted")
    // Reduces wait for the last map.
    expect(d.poll(7, "w1")).toEqual({ _tag: "Wait" })
    expect(d.done(8, "w3", m2)).toBe("Accepted")
    expect(d.state.phase).toBe("Reduce")
    const r0 = d.take(9, "w1")
    const r1 = d.take(9, "w2")
    expect([r0.task, r1.task]).toEqual([{ kind: "Reduce", index: 0 }, { kind: "Reduce", index: 1 }])
    expect(r0.file).toBeUndefined()
    expect(d.poll(10, "w3")).toEqual({ _tag: "Wait" })
    d.done(11, "w1", r0)
    expect(Scheduler.isFinished(d.state)).toBe(false)
    d.done(12, "w2", r1)
    expect(d.state.phase).toBe("Done")
    expect(d.poll(13, "w3")).toEqual({ _tag: "Exit", reason: "Done" })
    expect(d.notices.filter((n) => n._tag === "PhaseDone")).toEqual([
      { _tag: "PhaseDone", phase: "Map", atMs: 8 },
      { _tag: "PhaseDone", phase: "Reduce", atMs: 12 }
    ])
    const p = Scheduler.progress(d.state, 13)
    expect(p).toMatchObject({ phase: "Done", attempts: 5, reexecutions: 0, backups: 0, failures: 0, workers: 4 })
    expect(p.maps).toEqual({ done: 3, running: 0, total: 3 })
    expect(d.state.startMs).toBe(0)
    expect(d.state.endMs).toBe(12)
  })

  it("a job without inputs goes straight to reduce", () => {
    const d = new Driver(make(noBackup, []))
    expect(d.take(0, "w").task).toEqual({ kind: "Reduce", index: 0 })
  })

  it("reassigns a task whose lease expired, and only then (coordinator-side lease expiry)", () => {
    const d = new Driver(make({ ...noBackup, leaseMs: 10_000 }, ["a"]))
    const first = d.take(0, "w1")
    expect(d.poll(9_999, "w2")).toEqual({ _tag: "Wait" })
    expect(Scheduler.nextDeadline(d.state)).toBe(10_000)
    const second = d.take(10_000, "w2")
    expect(second.task).toEqual(first.task)
    expect(second.attempt).not.toBe(first.attempt)
    expect(d.notices.find((n) => n._tag === "Expired")).toEqual({
      _tag: "Expired",
      task: first.task,
      attempt: first.attempt,
      worker: "w1"
    })
    expect(d.notices.find((n) => n._tag === "Assigned" && n.worker === "w2")).toMatchObject({
      reexecution: true,
      backup: false
    })
    expect(Scheduler.progress(d.state, 10_000).reexecutions).toBe(1)
  })

  it("a tick expires leases even when nobody polls", () => {
    const d = new Driver(make(noBackup, ["a"]))
    d.take(0, "w1")
    d.tick(5_000)
    expect(d.tags()).not.toContain("Expired")
    d.tick(10_000)
    expect(d.tags()).toContain("Expired")
    expect(d.state.maps[0]!.status).toBe("Idle")
    expect(Scheduler.nextDeadline(d.state)).toBeUndefined()
  })

  it("a worker that reports after its task was reassigned: the first report wins, the later one is a duplicate", () => {
    const d = new Driver(make(noBackup, ["a"]))
    const slow = d.take(0, "slow")
    const fresh = d.take(10_000, "fresh")
    // The slow worker finishes first after all: its output is complete (atomic rename), so it counts.
    expect(d.done(12_000, "slow", slow, { lines: 5 })).toBe("Accepted")
    expect(d.state.maps[0]!.completed).toEqual({ attempt: slow.attempt, worker: "slow", durationMs: 12_000 })
    expect(d.done(13_000, "fresh", fresh, { lines: 5 })).toBe("Duplicate")
    expect(d.state.counters).toEqual({ lines: 5 })
    expect(d.state.phase).toBe("Reduce")
  })

  it("duplicate completion reports are acknowledged and counted once", () => {
    const d = new Driver(make(noBackup, ["a"]))
    const m = d.take(0, "w1")
    expect(d.done(1, "w1", m, { user: 2 }, { "map.input.bytes": 100 })).toBe("Accepted")
    expect(d.done(2, "w1", m, { user: 2 }, { "map.input.bytes": 100 })).toBe("Duplicate")
    expect(d.done(3, "w1", m, { user: 2 }, { "map.input.bytes": 100 })).toBe("Duplicate")
    expect(d.state.counters).toEqual({ user: 2 })
    expect(d.state.stats).toEqual({ "map.input.bytes": 100 })
    expect(d.tags().filter((t) => t === "Duplicate")).toHaveLength(2)
  })

  it("rejects reports of attempts it never made", () => {
    const d = new Driver(make(noBackup, ["a"]))
    const m = d.take(0, "w1")
    expect(d.done(1, "w2", m)).toBe("Rejected") // right attempt, wrong worker
    expect(d.done(1, "w1", { ...m, attempt: 99 })).toBe("Rejected")
    expect(d.done(1, "w1", { task: { kind: "Map", index: 7 }, attempt: m.attempt })).toBe("Rejected")
    expect(d.done(1, "w1", { task: { kind: "Reduce", index: 0 }, attempt: m.attempt })).toBe("Rejected")
    expect(d.state.maps[0]!.status).toBe("Running")
    expect(d.tags().filter((t) => t === "UnknownReport")).toHaveLength(4)
  })

  it("a failed attempt is reassigned at once; maxFailures failures fail the job", () => {
    const d = new Driver(make({ ...noBackup, maxFailures: 3 }, ["a", "b"]))
    const a1 = d.take(0, "w1")
    expect(d.fail(1, "w1", a1, "ENOENT")).toBe("Accepted")
    const a2 = d.take(2, "w2")
    expect(a2.task).toEqual(a1.task)
    d.fail(3, "w2", a2)
    const a3 = d.take(4, "w1")
    expect(a3.task).toEqual(a1.task)
    d.fail(5, "w1", a3, "still broken")
    expect(d.state.phase).toBe("Failed")
    expect(d.state.failure).toBe("map task 0 (a) failed 3 times; last error: still broken")
    expect(d.poll(6, "w3")).toEqual({ _tag: "Exit", reason: "Failed" })
    expect(d.notices.at(-1)).toEqual({ _tag: "JobFailed", reason: d.state.failure })
    expect(Scheduler.progress(d.state, 6).failures).toBe(3)
  })

  it("a failure of one attempt does not disturb another live attempt of the task", () => {
    const d = new Driver(make(noBackup, ["a"]))
    const a1 = d.take(0, "w1")
    const a2 = d.take(10_000, "w2") // a1 expired
    d.fail(10_001, "w1", a1)
    expect(d.state.maps[0]!.status).toBe("Running")
    expect(d.done(10_002, "w2", a2)).toBe("Accepted")
  })

  describe("backup tasks", () => {
    const policy = { backup: { tailFraction: 0.2, slowdown: 3, minRunMs: 1000 }, leaseMs: 60_000 }
    const tenMaps = Array.from({ length: 10 }, (_, i) => `f${i}`)

    /** 10 maps on 10 workers; all but map 9 finish after 1 s. */
    const straggler = () => {
      const d = new Driver(make(policy, tenMaps))
      const tasks = Array.from({ length: 10 }, (_, i) => d.take(0, `w${i}`))
      for (let i = 0; i < 9; i++) d.done(1000, `w${i}`, tasks[i]!)
      return { d, slow: tasks[9]! }
    }

    it("backs up a straggler in the phase's tail once it ran 3x the median", () => {
      const { d, slow } = straggler()
      expect(d.poll(2_999, "w0")).toEqual({ _tag: "Wait" })
      const backup = d.take(3_000, "w0")
      expect(backup).toMatchObject({ task: slow.task, backup: true })
      expect(d.notices.at(-1)).toMatchObject({ _tag: "Assigned", backup: true, reexecution: true })
      // One backup per task.
      expect(d.poll(3_001, "w1")).toEqual({ _tag: "Wait" })
      // Whichever finishes first wins.
      expect(d.done(3_500, "w0", backup)).toBe("Accepted")
      expect(d.done(9_000, "w9", slow)).toBe("Duplicate")
      expect(Scheduler.progress(d.state, 9_000)).toMatchObject({ backups: 1, reexecutions: 1 })
    })

    it("never backs up a task to the worker already running it", () => {
      const { d } = straggler()
      expect(d.poll(5_000, "w9")).toEqual({ _tag: "Wait" })
    })

    it("not before the tail of the phase", () => {
      const d = new Driver(make(policy, tenMaps))
      const tasks = Array.from({ length: 10 }, (_, i) => d.take(0, `w${i}`))
      for (let i = 0; i < 7; i++) d.done(1000, `w${i}`, tasks[i]!) // 3 of 10 unfinished > 20%
      expect(d.poll(50_000, "w0")).toEqual({ _tag: "Wait" })
    })

    it("not when disabled", () => {
      const d = new Driver(make({ ...policy, backup: undefined }, tenMaps))
      const tasks = Array.from({ length: 10 }, (_, i) => d.take(0, `w${i}`))
      for (let i = 0; i < 9; i++) d.done(1000, `w${i}`, tasks[i]!)
      expect(d.poll(50_000, "w0")).toEqual({ _tag: "Wait" })
    })

    it("not for short tasks (minRunMs)", () => {
      const d = new Driver(make(policy, tenMaps))
      const tasks = Array.from({ length: 10 }, (_, i) => d.take(0, `w${i}`))
      for (let i = 0; i < 9; i++) d.done(10, `w${i}`, tasks[i]!)
      expect(d.poll(999, "w0")).toEqual({ _tag: "Wait" })
      expect(d.take(1000, "w0").backup).toBe(true)
    })

    it("the job-count workload (8 maps of 2-5 s, 4 workers) never gets a backup: exactly 8 executions", () => {
      // A discrete-event run of the pure scheduler: workers poll every pollMs when idle, run each map
      // for its drawn duration, report, and poll again. Reduces take 10 ms.
      fc.assert(
        fc.property(
          fc.array(fc.integer({ min: 2000, max: 5000 }), { minLength: 8, maxLength: 8 }),
          fc.integer({ min: 0, max: 200 }),
          fc.integer({ min: 1, max: 100 }),
          (durations, rpcMs, pollMs) => {
            const files = durations.map((_, i) => `f${i}`)
            const d = new Driver(make({ ...Scheduler.defaults, backup: Scheduler.defaultBackupPolicy }, files))
            const nextAt = [0, 0, 0, 0]
            type Job = { a: Scheduler.Assignment & { _tag: "Task" }; until: number }
            const busy: Array<Job | undefined> = [undefined, undefined, undefined, undefined]
            for (let guard = 0; guard < 100_000 && d.state.phase !== "Done"; guard++) {
              const w = nextAt.indexOf(Math.min(...nextAt))
              const now = nextAt[w]!
              const job = busy[w]
              if (job !== undefined) {
                d.done(now, `w${w}`, job.a)
                busy[w] = undefined
                nextAt[w] = now + rpcMs
                continue
              }
              const a = d.poll(now, `w${w}`)
              if (a._tag === "Task") {
                const run = a.task.kind === "Map" ? durations[a.task.index]! + rpcMs : 10
                busy[w] = { a, until: now + run }
                nextAt[w] = now + run
              } else nextAt[w] = now + pollMs
            }
            expect(d.state.phase).toBe("Done")
            const mapAttempts = d.state.maps.reduce((n, t) => n + t.attempts.length, 0)
            expect(mapAttempts).toBe(8)
          }
        ),
        { numRuns: 300 }
      )
    })
  })

  it("the pure step is deterministic: the same events give the same state and notices", () => {
    const run = () => {
      const d = new Driver(make({}, ["a", "b"]))
      const x = d.take(0, "w1")
      d.take(1, "w2")
      d.poll(10_500, "w3")
      d.done(11_000, "w1", x)
      return { state: JSON.stringify({ ...d.state, workers: [...d.state.workers] }), notices: d.notices }
    }
    expect(run()).toEqual(run())
  })

  it("validates its configuration", () => {
    expect(() => Scheduler.makeConfig({ inputs, nReduce: 0 })).toThrow("nReduce")
    expect(() => Scheduler.makeConfig({ inputs, nReduce: 1, leaseMs: 0 })).toThrow("leaseMs")
    expect(() => Scheduler.makeConfig({ inputs, nReduce: 1, maxFailures: 0 })).toThrow("maxFailures")
  })
})
