/**
 * The MapReduce coordinator's scheduling logic as a pure state machine.
 *
 * `step(state, event)` returns the next state, the reply to the event (for a worker's poll: what to
 * do; for a report: whether it was accepted) and notices (for logs and progress). No I/O, no clock:
 * time arrives in the events, so the same events always give the same decisions, and every rule below
 * is unit-tested without a network (test/mapreduce/Scheduler.test.ts).
 *
 * Rules:
 * - Phases: every map task, then every reduce task; the job is done when every reduce task is. A
 *   worker that polls when nothing is left to assign waits; once the job is over it is told to exit.
 * - Leases: an assignment is an *attempt* with a lease of `leaseMs` (10 s, as in 6.824). A task whose
 *   attempts have all expired without a report is assigned again. There are no heartbeats: a task that
 *   needs longer than the lease must get a longer one.
 * - Completion: the first successful report of a task wins, whether or not its lease had expired
 *   (outputs are renamed into place atomically, so a late attempt's files are complete). Any later
 *   report of the task is a duplicate: acknowledged, and its counters are not counted again.
 * - Failures: an attempt whose app code failed is reported as failed; the task is assigned again at
 *   once. After `maxFailures` failed attempts of one task the job fails (a deterministic bug would
 *   otherwise loop forever).
 * - Backup tasks (speculative execution, MapReduce paper §3.6): see `BackupPolicy`.
 * @since 0.1.0
 */

/** A worker's name (a real worker's process id, a simulated worker's label). */
export type WorkerId = string

export type TaskKind = "Map" | "Reduce"

/** Which task: map task `index` reads input `index`; reduce task `index` writes `mr-out-<index>`. */
export interface TaskId {
  readonly kind: TaskKind
  readonly index: number
}

/**
 * When to start a second attempt of a task that is still running (a "backup task").
 *
 * A backup is assigned to a worker that polls and finds nothing else to do, when all three hold:
 * 1. the phase is in its tail: no task is waiting and at most `tailFraction` of the phase's tasks
 *    (at least one) are unfinished;
 * 2. the task has run for at least `slowdown` times the median duration of the phase's completed tasks,
 *    and at least `minRunMs`;
 * 3. the task has no backup yet, and the polling worker is not the one running it.
 *
 * Why these numbers: the job-count test (8 maps of 2–5 s on 4 workers) must see exactly 8 executions.
 * Its tasks' durations vary by at most 2.5x (5 s / 2 s), so a task can never reach 3x the median of
 * the others: the default `slowdown` of 3 never fires there, while a real straggler (a slow disk, an
 * overloaded machine: the paper reports 44% longer jobs without backups) is usually several times
 * slower than its peers. Tasks slower than the 10 s lease are re-assigned anyway; backups help with
 * the ones between.
 */
export interface BackupPolicy {
  readonly tailFraction: number
  readonly slowdown: number
  readonly minRunMs: number
}

export interface Config {
  /** Input files; map task i reads inputs[i]. */
  readonly inputs: ReadonlyArray<string>
  /** Number of reduce tasks (and output files). */
  readonly nReduce: number
  /** An attempt not reported within this time is presumed dead and its task assigned again. */
  readonly leaseMs: number
  /** A task that failed this many times fails the job. */
  readonly maxFailures: number
  /** Backup tasks for stragglers; `undefined` disables them. */
  readonly backup: BackupPolicy | undefined
}

export const defaultBackupPolicy: BackupPolicy = { tailFraction: 0.2, slowdown: 3, minRunMs: 1000 }

export const defaults = {
  leaseMs: 10_000,
  maxFailures: 4,
  backup: defaultBackupPolicy
} as const

/** A configuration from the inputs and reduce count plus overrides of the defaults. */
export const makeConfig = (
  options: Pick<Config, "inputs" | "nReduce"> & Partial<Omit<Config, "inputs" | "nReduce">>
): Config => {
  const config: Config = { ...defaults, ...options }
  if (!Number.isInteger(config.nReduce) || config.nReduce < 1) {
    throw new Error(`nReduce must be a positive integer, got ${config.nReduce}`)
  }
  if (!(config.leaseMs > 0)) throw new Error(`leaseMs must be positive, got ${config.leaseMs}`)
  if (!Number.isInteger(config.maxFailures) || config.maxFailures < 1) {
    throw new Error(`maxFailures must be a positive integer, got ${config.maxFailures}`)
  }
  if (config.backup !== undefined && !(config.backup.slowdown >= 1 && config.backup.tailFraction >= 0)) {
    throw new Error("backup policy: slowdown must be at least 1 and tailFraction non-negative")
  }
  return config
}

/** One assignment of a task to a worker. */
export interface Attempt {
  readonly id: number
  readonly worker: WorkerId
  readonly startMs: number
  readonly backup: boolean
}

export type TaskStatus = "Idle" | "Running" | "Done"

export interface Task {
  readonly id: TaskId
  readonly status: TaskStatus
  /** Attempts with a live lease. */
  readonly running: ReadonlyArray<Attempt>
  /** Every attempt ever made, in order (for late reports and statistics). */
  readonly attempts: ReadonlyArray<Attempt>
  readonly failures: number
  /** The attempt whose report was accepted, and how long it took (assignment to report). */
  readonly completed: { readonly attempt: number; readonly worker: WorkerId; readonly durationMs: number } | undefined
}

export type Phase = "Map" | "Reduce" | "Done" | "Failed"

/** Named totals: user counters, or the framework's statistics (`map.input.bytes`, ...). */
export type Counters = Readonly<Record<string, number>>

export interface State {
  readonly config: Config
  readonly phase: Phase
  readonly maps: ReadonlyArray<Task>
  readonly reduces: ReadonlyArray<Task>
  readonly nextAttempt: number
  /** When the first event arrived. */
  readonly startMs: number | undefined
  /** When each phase finished. */
  readonly mapDoneMs: number | undefined
  readonly endMs: number | undefined
  /** Why the job failed. */
  readonly failure: string | undefined
  /** Totals of the accepted attempts' user counters. */
  readonly counters: Counters
  /** Totals of the accepted attempts' framework statistics. */
  readonly stats: Counters
  /** When each worker was last heard from. */
  readonly workers: ReadonlyMap<WorkerId, number>
}

/** What a polling worker should do. */
export type Assignment =
  | {
    readonly _tag: "Task"
    readonly task: TaskId
    readonly attempt: number
    /** The input file (map tasks). */
    readonly file: string | undefined
    readonly nMap: number
    readonly nReduce: number
    readonly backup: boolean
  }
  | { readonly _tag: "Wait" }
  | { readonly _tag: "Exit"; readonly reason: "Done" | "Failed" }

/**
 * The fate of a report: `Accepted` (the task is done, or a failure was recorded), `Duplicate` (the
 * task was already done: this attempt's output and counters are ignored), `Rejected` (not an attempt
 * of this job, or the job has failed).
 */
export type Ack = "Accepted" | "Duplicate" | "Rejected"

/** The result of an attempt, as the worker reports it. */
export type Outcome =
  | { readonly _tag: "Succeeded"; readonly counters: Counters; readonly stats: Counters }
  | { readonly _tag: "Failed"; readonly error: string }

export type Event =
  | { readonly _tag: "Poll"; readonly now: number; readonly worker: WorkerId }
  | {
    readonly _tag: "Report"
    readonly now: number
    readonly worker: WorkerId
    readonly task: TaskId
    readonly attempt: number
    readonly outcome: Outcome
  }
  | { readonly _tag: "Tick"; readonly now: number }

/** Things that happened, for logs, progress and tests. */
export type Notice =
  | {
    readonly _tag: "Assigned"
    readonly task: TaskId
    readonly attempt: number
    readonly worker: WorkerId
    /** A backup of a task that is still running elsewhere. */
    readonly backup: boolean
    /** Not the task's first attempt. */
    readonly reexecution: boolean
  }
  | {
    readonly _tag: "Completed"
    readonly task: TaskId
    readonly attempt: number
    readonly worker: WorkerId
    readonly durationMs: number
  }
  | { readonly _tag: "Duplicate"; readonly task: TaskId; readonly attempt: number; readonly worker: WorkerId }
  | { readonly _tag: "Expired"; readonly task: TaskId; readonly attempt: number; readonly worker: WorkerId }
  | {
    readonly _tag: "AttemptFailed"
    readonly task: TaskId
    readonly attempt: number
    readonly worker: WorkerId
    readonly error: string
    readonly failures: number
  }
  | { readonly _tag: "UnknownReport"; readonly task: TaskId; readonly attempt: number; readonly worker: WorkerId }
  | { readonly _tag: "PhaseDone"; readonly phase: "Map" | "Reduce"; readonly atMs: number }
  | { readonly _tag: "JobFailed"; readonly reason: string }

/** A step's result: the next state, the reply to the event, and what happened. */
export interface Step<R> {
  readonly state: State
  readonly reply: R
  readonly notices: ReadonlyArray<Notice>
}

const newTask = (kind: TaskKind, index: number): Task => ({
  id: { kind, index },
  status: "Idle",
  running: [],
  attempts: [],
  failures: 0,
  completed: undefined
})

/** The state of a job that has not started. */
export const initial = (config: Config): State => ({
  config,
  phase: config.inputs.length === 0 ? "Reduce" : "Map",
  maps: config.inputs.map((_, i) => newTask("Map", i)),
  reduces: Array.from({ length: config.nReduce }, (_, i) => newTask("Reduce", i)),
  nextAttempt: 1,
  startMs: undefined,
  mapDoneMs: undefined,
  endMs: undefined,
  failure: undefined,
  counters: {},
  stats: {},
  workers: new Map()
})

/** Feeds one event. `Poll` replies with an `Assignment`, `Report` with an `Ack`, `Tick` with nothing. */
export function step(state: State, event: Extract<Event, { _tag: "Poll" }>): Step<Assignment>
export function step(state: State, event: Extract<Event, { _tag: "Report" }>): Step<Ack>
export function step(state: State, event: Extract<Event, { _tag: "Tick" }>): Step<undefined>
export function step(state: State, event: Event): Step<Assignment | Ack | undefined>
export function step(state: State, event: Event): Step<Assignment | Ack | undefined> {
  switch (event._tag) {
    case "Poll":
      return poll(state, event.now, event.worker)
    case "Report":
      return report(state, event)
    case "Tick":
      return tick(state, event.now)
  }
}

/** A worker asks for work at `now`. */
export const poll = (state0: State, now: number, worker: WorkerId): Step<Assignment> => {
  const notices: Array<Notice> = []
  let state = seen(expire(started(state0, now), now, notices), worker, now)
  if (state.phase === "Done" || state.phase === "Failed") {
    return { state, reply: { _tag: "Exit", reason: state.phase }, notices }
  }
  const tasks = phaseTasks(state)
  const idle = tasks.find((t) => t.status === "Idle")
  const chosen = idle ?? backupCandidate(state, tasks, now, worker)
  if (chosen === undefined) return { state, reply: { _tag: "Wait" }, notices }
  const attempt: Attempt = { id: state.nextAttempt, worker, startMs: now, backup: chosen.status === "Running" }
  const task: Task = {
    ...chosen,
    status: "Running",
    running: [...chosen.running, attempt],
    attempts: [...chosen.attempts, attempt]
  }
  state = replaceTask({ ...state, nextAttempt: state.nextAttempt + 1 }, task)
  notices.push({
    _tag: "Assigned",
    task: task.id,
    attempt: attempt.id,
    worker,
    backup: attempt.backup,
    reexecution: chosen.attempts.length > 0
  })
  return {
    state,
    reply: {
      _tag: "Task",
      task: task.id,
      attempt: attempt.id,
      file: task.id.kind === "Map" ? state.config.inputs[task.id.index] : undefined,
      nMap: state.config.inputs.length,
      nReduce: state.config.nReduce,
      backup: attempt.backup
    },
    notices
  }
}

/** A worker reports the outcome of an attempt. */
export const report = (state0: State, event: Extract<Event, { _tag: "Report" }>): Step<Ack> => {
  const notices: Array<Notice> = []
  let state = seen(expire(started(state0, event.now), event.now, notices), event.worker, event.now)
  const { task: id, attempt: attemptId, worker, now } = event
  const list = id.kind === "Map" ? state.maps : state.reduces
  const task = Number.isInteger(id.index) ? list[id.index] : undefined
  const attempt = task?.attempts.find((a) => a.id === attemptId && a.worker === worker)
  if (task === undefined || attempt === undefined) {
    // Not an attempt we made (a report from another job, or a confused worker): ignore it.
    notices.push({ _tag: "UnknownReport", task: id, attempt: attemptId, worker })
    return { state, reply: "Rejected", notices }
  }
  if (state.phase === "Failed") return { state, reply: "Rejected", notices }
  if (task.status === "Done") {
    notices.push({ _tag: "Duplicate", task: id, attempt: attemptId, worker })
    return { state, reply: "Duplicate", notices }
  }
  const outcome = event.outcome
  if (outcome._tag === "Failed") {
    const running = task.running.filter((a) => a.id !== attemptId)
    const failures = task.failures + 1
    state = replaceTask(state, { ...task, running, failures, status: running.length > 0 ? "Running" : "Idle" })
    notices.push({ _tag: "AttemptFailed", task: id, attempt: attemptId, worker, error: outcome.error, failures })
    if (failures >= state.config.maxFailures && state.phase !== "Failed") {
      const reason = `${describeTask(id, state.config)} failed ${failures} times; last error: ${outcome.error}`
      state = { ...state, phase: "Failed", failure: reason, endMs: now }
      notices.push({ _tag: "JobFailed", reason })
    }
    return { state, reply: "Accepted", notices }
  }
  const durationMs = now - attempt.startMs
  const completed = { attempt: attemptId, worker, durationMs }
  state = replaceTask(state, { ...task, status: "Done", running: [], completed })
  state = {
    ...state,
    counters: addCounters(state.counters, outcome.counters),
    stats: addCounters(state.stats, outcome.stats)
  }
  notices.push({ _tag: "Completed", task: id, attempt: attemptId, worker, durationMs })
  if (state.phase === "Map" && state.maps.every((t) => t.status === "Done")) {
    state = { ...state, phase: "Reduce", mapDoneMs: now }
    notices.push({ _tag: "PhaseDone", phase: "Map", atMs: now })
  }
  if (state.phase === "Reduce" && state.reduces.every((t) => t.status === "Done")) {
    state = { ...state, phase: "Done", endMs: now }
    notices.push({ _tag: "PhaseDone", phase: "Reduce", atMs: now })
  }
  return { state, reply: "Accepted", notices }
}

/** Time passed: expire leases. */
export const tick = (state: State, now: number): Step<undefined> => {
  const notices: Array<Notice> = []
  return { state: expire(state, now, notices), reply: undefined, notices }
}

// -- queries ---------------------------------------------------------------------------------------

/** Whether the job is over (done or failed): pollers are told to exit. */
export const isFinished = (state: State): boolean => state.phase === "Done" || state.phase === "Failed"

/** The earliest time at which a lease expires, if any attempt is running. */
export const nextDeadline = (state: State): number | undefined => {
  let next: number | undefined
  for (const t of [...state.maps, ...state.reduces]) {
    for (const a of t.running) {
      const d = a.startMs + state.config.leaseMs
      if (next === undefined || d < next) next = d
    }
  }
  return next
}

/** Progress numbers for display and summaries. */
export interface Progress {
  readonly phase: Phase
  readonly maps: { readonly done: number; readonly running: number; readonly total: number }
  readonly reduces: { readonly done: number; readonly running: number; readonly total: number }
  /** Attempts started, all tasks. */
  readonly attempts: number
  /** Attempts beyond each task's first (after expiry, failure, or as backups). */
  readonly reexecutions: number
  readonly backups: number
  readonly failures: number
  /** Workers running an attempt (with a live lease) or heard from within `activeMs`. */
  readonly workers: number
}

export const progress = (state: State, now: number, activeMs = 1000): Progress => {
  const count = (tasks: ReadonlyArray<Task>) => ({
    done: tasks.filter((t) => t.status === "Done").length,
    running: tasks.filter((t) => t.status === "Running").length,
    total: tasks.length
  })
  let attempts = 0
  let reexecutions = 0
  let backups = 0
  let failures = 0
  for (const t of [...state.maps, ...state.reduces]) {
    attempts += t.attempts.length
    reexecutions += Math.max(0, t.attempts.length - 1)
    backups += t.attempts.filter((a) => a.backup).length
    failures += t.failures
  }
  const active = new Set<WorkerId>()
  for (const t of [...state.maps, ...state.reduces]) for (const a of t.running) active.add(a.worker)
  for (const [worker, last] of state.workers) if (now - last <= activeMs) active.add(worker)
  const workers = active.size
  return {
    phase: state.phase,
    maps: count(state.maps),
    reduces: count(state.reduces),
    attempts,
    reexecutions,
    backups,
    failures,
    workers
  }
}

/** "map task 3 (pg-grimm.txt)" / "reduce task 7". */
export const describeTask = (id: TaskId, config: Config): string =>
  id.kind === "Map" ? `map task ${id.index} (${config.inputs[id.index] ?? "?"})` : `reduce task ${id.index}`

// -- internals -------------------------------------------------------------------------------------

const started = (state: State, now: number): State => (state.startMs === undefined ? { ...state, startMs: now } : state)

const seen = (state: State, worker: WorkerId, now: number): State => {
  const workers = new Map(state.workers)
  workers.set(worker, now)
  return { ...state, workers }
}

const phaseTasks = (state: State): ReadonlyArray<Task> => (state.phase === "Map" ? state.maps : state.reduces)

const replaceTask = (state: State, task: Task): State => {
  if (task.id.kind === "Map") {
    const maps = state.maps.slice()
    maps[task.id.index] = task
    return { ...state, maps }
  }
  const reduces = state.reduces.slice()
  reduces[task.id.index] = task
  return { ...state, reduces }
}

/** Drops the attempts whose lease has run out; a task left without attempts becomes idle again. */
const expire = (state: State, now: number, notices: Array<Notice>): State => {
  const leaseMs = state.config.leaseMs
  const sweep = (tasks: ReadonlyArray<Task>): ReadonlyArray<Task> => {
    let changed = false
    const out = tasks.map((t) => {
      if (t.running.length === 0) return t
      const live = t.running.filter((a) => now - a.startMs < leaseMs)
      if (live.length === t.running.length) return t
      changed = true
      for (const a of t.running) {
        if (!live.includes(a)) notices.push({ _tag: "Expired", task: t.id, attempt: a.id, worker: a.worker })
      }
      return { ...t, running: live, status: live.length > 0 ? t.status : "Idle" as const }
    })
    return changed ? out : tasks
  }
  const maps = sweep(state.maps)
  const reduces = sweep(state.reduces)
  return maps === state.maps && reduces === state.reduces ? state : { ...state, maps, reduces }
}

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** The running task to back up for `worker`, if the policy allows one now (see `BackupPolicy`). */
const backupCandidate = (state: State, tasks: ReadonlyArray<Task>, now: number, worker: WorkerId): Task | undefined => {
  const policy = state.config.backup
  if (policy === undefined) return undefined
  const unfinished = tasks.filter((t) => t.status !== "Done")
  if (unfinished.length > Math.max(1, Math.ceil(policy.tailFraction * tasks.length))) return undefined
  const durations = tasks.flatMap((t) => (t.completed === undefined ? [] : [t.completed.durationMs]))
  if (durations.length === 0) return undefined
  const threshold = Math.max(policy.minRunMs, policy.slowdown * median(durations))
  let best: Task | undefined
  let bestElapsed = -1
  for (const t of unfinished) {
    if (t.status !== "Running" || t.running.length !== 1) continue
    const only = t.running[0]!
    if (only.worker === worker || t.attempts.some((a) => a.backup)) continue
    const elapsed = now - only.startMs
    if (elapsed >= threshold && elapsed > bestElapsed) {
      best = t
      bestElapsed = elapsed
    }
  }
  return best
}

const addCounters = (a: Counters, b: Counters): Counters => {
  const out: Record<string, number> = { ...a }
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v
  return out
}
