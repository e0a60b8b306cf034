/**
 * A deterministic simulation kernel for Effect programs.
 *
 * A `Simulation` owns three things a program normally takes from the host: the scheduler that runs
 * fiber steps, the clock, and the random generator. Fiber steps run in FIFO order; time is virtual and
 * moves only when no fiber can make progress, straight to the next pending timer. With a seeded
 * `Random` and no real I/O, a run is a pure function of its seed: the same seed replays the same
 * interleaving bit for bit.
 *
 * Why not `TestClock`: `TestClock.adjust` advances time in steps the test chooses and yields to the
 * host between timer firings (several milliseconds of wall time each). A cluster simulation fires
 * millions of timers, so here the kernel jumps from timer to timer as soon as every fiber is idle.
 * Library code is unaware of the difference: it only uses `Clock`, `Effect.sleep` and `Random`, so it
 * runs unchanged under `TestClock`, under this kernel, and on the real clock.
 *
 * Rules for code run inside a simulation: no real I/O (sockets, files, real timers, promises that
 * settle on the host's event loop), since the kernel cannot see them and would move time past them.
 * @since 0.1.0
 */
import { Cause, Clock, Duration, Effect, Exit, Fiber, FiberId, Random, Scheduler } from "effect"
import { withoutFiberMetrics } from "../internal/metrics.js"

/** Options of one simulated run. */
export interface RunOptions {
  /** Seed of the run's `Random`; the whole run is a function of it. */
  readonly seed: number
  /**
   * Simulated-time budget. When the next timer lies beyond it the program is interrupted and the run
   * fails with `SimulationTimeout`. Default: unlimited.
   */
  readonly timeLimit?: Duration.DurationInput
}

/** What a finished run measured. */
export interface RunStats {
  readonly seed: number
  /** Simulated milliseconds that passed. */
  readonly simulatedMs: number
  /** Wall-clock milliseconds the run took. */
  readonly wallMs: number
  /** Timers fired. */
  readonly timersFired: number
  /** Fiber steps run by the scheduler. */
  readonly tasksRun: number
}

/** The program waited forever: every fiber is suspended and no timer is pending. */
export class SimulationDeadlock extends Error {
  override readonly name = "SimulationDeadlock"
  constructor(readonly atMs: number) {
    super(`simulation deadlocked at t=${atMs}ms: every fiber is suspended and no timer is pending`)
  }
}

/** Fibers kept running without simulated time ever advancing: a loop that waits on nothing. */
export class SimulationLivelock extends Error {
  override readonly name = "SimulationLivelock"
  constructor(readonly atMs: number, readonly steps: number) {
    super(`simulation livelocked at t=${atMs}ms: ${steps} fiber steps ran without simulated time advancing`)
  }
}

/** The program ran past its simulated-time budget. */
export class SimulationTimeout extends Error {
  override readonly name = "SimulationTimeout"
  constructor(readonly limitMs: number) {
    super(`simulated time limit of ${limitMs}ms exceeded`)
  }
}

interface Timer {
  readonly atMs: number
  readonly seq: number
  readonly task: () => void
  cancelled: boolean
}

// Yield to the host event loop at least this often (wall ms), so that a long simulation does not
// starve the test runner's own I/O. Yield points do not affect the simulated interleaving.
const HOST_SLICE_MS = 20

// Fiber steps allowed within one simulated instant before the run is declared livelocked. A real
// instant of a cluster simulation takes thousands of steps; this is far beyond any legitimate burst.
const LIVELOCK_STEPS = 2_000_000
const DRAIN_BUDGET = 100_000

/**
 * One simulated world: a FIFO scheduler, a virtual clock and a timer queue. Create one per run;
 * `run` executes an effect inside it.
 */
export class Simulation {
  private nowMs = 0
  private seq = 0
  private readonly tasks: Array<Scheduler.Task> = []
  private taskHead = 0
  private readonly timers: Array<Timer> = []
  private timersFired = 0
  private tasksRun = 0

  /** The scheduler every fiber of the run uses. */
  readonly scheduler: Scheduler.Scheduler = {
    scheduleTask: (task) => {
      this.tasks.push(task)
    },
    shouldYield: Scheduler.defaultShouldYield
  }

  /** The virtual clock: `sleep` registers a timer that fires when simulated time reaches it. */
  readonly clock: Clock.Clock = makeClock(this)

  /** Current simulated time in milliseconds. */
  get currentMs(): number {
    return this.nowMs
  }

  /** @internal registers `task` to run at `now + ms`; returns its cancel function. */
  schedule(ms: number, task: () => void): () => void {
    const timer: Timer = { atMs: this.nowMs + Math.max(0, ms), seq: this.seq++, task, cancelled: false }
    heapPush(this.timers, timer)
    return () => {
      timer.cancelled = true
    }
  }

  /**
   * Runs `effect` to completion inside this simulation with a `Random` seeded from `options.seed`.
   * Resolves with the program's exit and the run's statistics; a deadlock or a time-limit overrun
   * fails the exit with `SimulationDeadlock` / `SimulationTimeout` as a defect.
   */
  async run<A, E>(
    effect: Effect.Effect<A, E>,
    options: RunOptions
  ): Promise<{ readonly exit: Exit.Exit<A, E>; readonly stats: RunStats }> {
    const wallStart = performance.now()
    const limitMs = options.timeLimit === undefined ? Infinity : Duration.toMillis(options.timeLimit)
    const program = effect.pipe(
      withoutFiberMetrics,
      Effect.withClock(this.clock),
      Effect.withRandom(Random.make(options.seed))
    )
    let exit: Exit.Exit<A, E> | undefined
    const fiber = Effect.runFork(program, { scheduler: this.scheduler })
    fiber.addObserver((e) => {
      exit = e
    })
    let failure: Error | undefined
    let sliceStart = performance.now()
    let instantStart = this.nowMs
    let instantSteps = this.tasksRun
    while (exit === undefined) {
      this.drainTasks()
      if (exit !== undefined) break
      if (this.nowMs !== instantStart) {
        instantStart = this.nowMs
        instantSteps = this.tasksRun
      } else if (this.tasksRun - instantSteps > LIVELOCK_STEPS && failure === undefined) {
        failure = new SimulationLivelock(this.nowMs, this.tasksRun - instantSteps)
        fiber.unsafeInterruptAsFork(FiberId.none)
        instantSteps = Infinity
        continue
      }
      if (this.taskHead < this.tasks.length) continue // the drain stopped at its budget
      // Let promise callbacks of the host (none in a well-formed simulation) settle before time moves.
      await null
      if (this.taskHead < this.tasks.length) continue
      if (performance.now() - sliceStart > HOST_SLICE_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve))
        sliceStart = performance.now()
        continue
      }
      const timer = this.popTimer()
      if (timer === undefined) {
        failure = new SimulationDeadlock(this.nowMs)
        break
      }
      if (timer.atMs > limitMs && failure === undefined) {
        // Put it back, interrupt the program, and let its finalizers run (they may need timers).
        heapPush(this.timers, timer)
        failure = new SimulationTimeout(limitMs)
        fiber.unsafeInterruptAsFork(FiberId.none)
        continue
      }
      this.nowMs = Math.max(this.nowMs, timer.atMs)
      this.timersFired++
      timer.task()
    }
    const stats: RunStats = {
      seed: options.seed,
      simulatedMs: this.nowMs,
      wallMs: performance.now() - wallStart,
      timersFired: this.timersFired,
      tasksRun: this.tasksRun
    }
    if (failure !== undefined) {
      if (exit === undefined) fiber.unsafeInterruptAsFork(FiberId.none)
      return { exit: Exit.failCause(Cause.die(failure)), stats }
    }
    return { exit: exit!, stats }
  }

  /** Runs queued fiber steps (at most DRAIN_BUDGET, so that livelock checks get a turn). */
  private drainTasks(): void {
    const tasks = this.tasks
    const stop = this.tasksRun + DRAIN_BUDGET
    while (this.taskHead < tasks.length && this.tasksRun < stop) {
      const task = tasks[this.taskHead]!
      tasks[this.taskHead++] = undefined as any
      this.tasksRun++
      task()
      if (this.taskHead > 4096 && this.taskHead * 2 > tasks.length) {
        tasks.splice(0, this.taskHead)
        this.taskHead = 0
      }
    }
    if (this.taskHead >= tasks.length) {
      tasks.length = 0
      this.taskHead = 0
    }
  }

  private popTimer(): Timer | undefined {
    while (this.timers.length > 0) {
      const timer = heapPop(this.timers)!
      if (!timer.cancelled) {
        timer.cancelled = true
        return timer
      }
    }
    return undefined
  }
}

/**
 * Runs `effect` in a fresh simulation. Convenience over `new Simulation().run(...)`.
 */
export const run = <A, E>(effect: Effect.Effect<A, E>, options: RunOptions) => new Simulation().run(effect, options)

/**
 * Runs `effect` in a fresh simulation and returns its value, throwing the failure (with the seed in the
 * message) otherwise. For tests and scripts.
 */
export const runOrThrow = async <A, E>(
  effect: Effect.Effect<A, E>,
  options: RunOptions
): Promise<{ readonly value: A; readonly stats: RunStats }> => {
  const { exit, stats } = await run(effect, options)
  if (Exit.isSuccess(exit)) return { value: exit.value, stats }
  const error = new Error(`simulation failed (seed=${options.seed}, t=${stats.simulatedMs}ms):\n${Cause.pretty(exit.cause)}`)
  ;(error as any).seed = options.seed
  throw error
}

/** The simulated time, for use inside a simulation (equal to `Clock.currentTimeMillis`). */
export const now: Effect.Effect<number> = Clock.currentTimeMillis

/** Waits until the fiber `f` completes, for use in scripts that fork workloads. */
export const awaitFiber = Fiber.await

// -- the virtual clock ----------------------------------------------------------------------------

const makeClock = (sim: Simulation): Clock.Clock => {
  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => sim.currentMs,
    unsafeCurrentTimeNanos: () => BigInt(Math.round(sim.currentMs * 1_000_000)),
    currentTimeMillis: Effect.sync(() => sim.currentMs),
    currentTimeNanos: Effect.sync(() => BigInt(Math.round(sim.currentMs * 1_000_000))),
    sleep: (duration) => {
      const ms = Duration.toMillis(duration)
      if (!Number.isFinite(ms)) return Effect.never
      return Effect.async<void>((resume) => {
        const cancel = sim.schedule(ms, () => resume(Effect.void))
        return Effect.sync(cancel)
      })
    }
  }
  return clock
}

// -- binary min-heap on (atMs, seq) ---------------------------------------------------------------

const before = (a: Timer, b: Timer) => a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq)

const heapPush = (heap: Array<Timer>, t: Timer) => {
  heap.push(t)
  let i = heap.length - 1
  while (i > 0) {
    const p = (i - 1) >> 1
    if (!before(heap[i]!, heap[p]!)) break
    const tmp = heap[i]!
    heap[i] = heap[p]!
    heap[p] = tmp
    i = p
  }
}

const heapPop = (heap: Array<Timer>): Timer | undefined => {
  if (heap.length === 0) return undefined
  const top = heap[0]!
  const last = heap.pop()!
  if (heap.length > 0) {
    heap[0] = last
    let i = 0
    const n = heap.length
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < n && before(heap[l]!, heap[m]!)) m = l
      if (r < n && before(heap[r]!, heap[m]!)) m = r
      if (m === i) break
      const tmp = heap[i]!
      heap[i] = heap[m]!
      heap[m] = tmp
      i = m
    }
  }
  return top
}

// -- seeds ---------------------------------------------------------------------------------------

/** The seeds a seeded test should run, from the environment. */
export interface SeedPlan {
  readonly seeds: ReadonlyArray<number>
  /** True when sweeping (`CONCORD_SWEEP`): run every seed and report all failures. */
  readonly sweep: boolean
}

/**
 * `SEED=<n>` replays one seed; `CONCORD_SWEEP=<count>` (with optional `CONCORD_SWEEP_BASE`, default 1)
 * runs `count` consecutive seeds; otherwise one fresh seed from `fresh()`.
 */
export const seedPlan = (env: Record<string, string | undefined>, fresh: () => number): SeedPlan => {
  const parse = (name: string, text: string) => {
    const n = Number(text)
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${text}"`)
    return n
  }
  if (env.SEED !== undefined && env.SEED !== "") return { seeds: [parse("SEED", env.SEED)], sweep: false }
  if (env.CONCORD_SWEEP !== undefined && env.CONCORD_SWEEP !== "") {
    const count = parse("CONCORD_SWEEP", env.CONCORD_SWEEP)
    const base = env.CONCORD_SWEEP_BASE ? parse("CONCORD_SWEEP_BASE", env.CONCORD_SWEEP_BASE) : 1
    return { seeds: Array.from({ length: count }, (_, i) => base + i), sweep: true }
  }
  return { seeds: [fresh()], sweep: false }
}
