/**
 * Progress of a job, for people: a one-line bar redrawn in place on a terminal, or plain log lines
 * (for files and CI logs) — the formatting is pure, the rendering loop only needs a `write`.
 *
 * Bar: `map 8/8  reduce 3/10  [######----]  12.4 MB/s  re-executions 1  workers 3  2.5s`
 * (MB = 10^6 bytes of input read by completed map tasks, per second since the job's first request).
 * @since 0.1.0
 */
import { Duration, Effect, Option, Queue } from "effect"
import type { Status } from "./Coordinator.js"
import * as Scheduler from "./Scheduler.js"

export type Mode = "bar" | "log" | "none"

/** Input throughput in MB/s (10^6 bytes). */
export const mbPerSecond = (bytes: number, ms: number): number => (ms <= 0 ? 0 : bytes / 1e6 / (ms / 1000))

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`

/** The progress bar (no newline, no terminal codes). `width` is the number of cells of the bar. */
export const formatBar = (status: Status, width = 20): string => {
  const p = status.progress
  const total = p.maps.total + p.reduces.total
  const done = p.maps.done + p.reduces.done
  const filled = total === 0 ? width : Math.round((done / total) * width)
  const parts = [
    `map ${p.maps.done}/${p.maps.total}`,
    `reduce ${p.reduces.done}/${p.reduces.total}`,
    `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`,
    `${mbPerSecond(status.inputBytesDone, status.elapsedMs).toFixed(1)} MB/s`,
    `re-executions ${p.reexecutions}`,
    `workers ${p.workers}`,
    seconds(status.elapsedMs)
  ]
  if (p.failures > 0) parts.splice(5, 0, `failures ${p.failures}`)
  return parts.join("  ")
}

/**
 * A log line for the notices worth a line (phases, expiries, failures, backups, duplicates); others
 * (each assignment and completion) only move the bar.
 */
export const formatNotice = (notice: Scheduler.Notice, config: Scheduler.Config): Option.Option<string> => {
  const task = (id: Scheduler.TaskId) => Scheduler.describeTask(id, config)
  switch (notice._tag) {
    case "PhaseDone":
      return Option.some(notice.phase === "Map" ? "map phase done" : "reduce phase done: job complete")
    case "Expired":
      return Option.some(
        `${task(notice.task)}: worker ${notice.worker} did not finish within ${seconds(config.leaseMs)}; ` +
          "assigning it again"
      )
    case "AttemptFailed":
      return Option.some(
        `${task(notice.task)} failed on worker ${notice.worker} ` +
          `(${notice.failures}/${config.maxFailures}): ${notice.error}`
      )
    case "JobFailed":
      return Option.some(`job failed: ${notice.reason}`)
    case "Assigned":
      return notice.backup
        ? Option.some(`${task(notice.task)}: straggler; backup attempt on worker ${notice.worker}`)
        : Option.none()
    case "Duplicate":
      return Option.some(`${task(notice.task)}: duplicate report from worker ${notice.worker} ignored`)
    case "UnknownReport":
      return Option.some(`ignored a report from worker ${notice.worker} for an attempt this job never made`)
    case "Completed":
      return Option.none()
  }
}

/** A status as a log line: `[2.5s] map 2/2  reduce 1/4  2.0 MB/s  re-executions 1  workers 3`. */
export const formatStatusLine = (status: Status): string =>
  `[${seconds(status.elapsedMs)}] ${formatBar(status).replace(/\s*\[[#-]*\]/, "").replace(/\s+\S+s$/, "")}`

/** A timestamped notice, queued by the coordinator's `onNotice` and drained by `render`. */
export interface TimedNotice {
  readonly notice: Scheduler.Notice
  readonly atMs: number
}

/**
 * Renders progress until interrupted: in `bar` mode redraws the bar every `intervalMs` (and prints
 * notices above it); in `log` mode prints notices as they come and a status line every `logEveryMs`
 * while the counts move. `finish` prints the final state (call it after interrupting the loop).
 */
export const render = (options: {
  readonly mode: Mode
  readonly status: Effect.Effect<Status>
  readonly notices: Queue.Dequeue<TimedNotice>
  readonly config: Scheduler.Config
  readonly write: (text: string) => Effect.Effect<void>
  readonly intervalMs?: number
  readonly logEveryMs?: number
}) => {
  const { mode, write } = options
  const interval = Duration.millis(options.intervalMs ?? 200)
  const logEvery = options.logEveryMs ?? 5000
  const CLEAR = "\r\x1b[K"
  // Notices are stamped with the job's elapsed time, like the status lines.
  const drain = (prefix: string, status: Status) =>
    Effect.flatMap(Queue.takeAll(options.notices), (items) =>
      Effect.forEach(items, (n) =>
        Option.match(formatNotice(n.notice, options.config), {
          onNone: () => Effect.void,
          onSome: (line) => write(`${prefix}[${seconds(n.atMs - (status.state.startMs ?? n.atMs))}] ${line}\n`)
        }), { discard: true }))
  let lastLogMs = 0
  let lastCounts = ""
  const frame: Effect.Effect<void> = Effect.gen(function*() {
    if (mode === "none") return yield* Queue.takeAll(options.notices)
    const status = yield* options.status
    if (mode === "bar") {
      yield* drain(CLEAR, status)
      yield* write(`${CLEAR}${formatBar(status)}`)
      return
    }
    yield* drain("", status)
    // A status line every logEveryMs, when the counts moved.
    const line = formatStatusLine(status)
    const counts = line.replace(/^\[\S+\] /, "").replace(/\s+[\d.]+ MB\/s/, "")
    if (status.elapsedMs > 0 && status.elapsedMs - lastLogMs >= logEvery && counts !== lastCounts) {
      lastLogMs = status.elapsedMs
      lastCounts = counts
      yield* write(`${line}\n`)
    }
  })
  const loop = Effect.forever(Effect.zipRight(frame, Effect.sleep(interval)))
  const finish = Effect.gen(function*() {
    yield* frame
    if (mode === "bar") yield* write("\n")
  })
  /** Prints a line of the caller's own (above the bar, which the next frame redraws). */
  const log = (line: string) => write(mode === "bar" ? `${CLEAR}${line}\n` : `${line}\n`)
  return { loop, finish, log }
}
