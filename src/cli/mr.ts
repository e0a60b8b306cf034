/**
 * `concord mr`: MapReduce from the command line.
 *
 *   concord mr sequential --app wc FILE...             the reference runner: one process, mr-out-0
 *   concord mr coordinator [--reduces 10] FILE...      serve a job on 127.0.0.1 (prints its address)
 *   concord mr worker --coordinator HOST:PORT --app wc work for that coordinator until the job ends
 *   concord mr run --app wc --workers N FILE...        all of it: a coordinator and N worker processes
 *
 * Exit codes: 0 done; 1 the job failed or could not run (a task failed too often, every worker died,
 * the coordinator was unreachable, the time limit passed); 3 bad input (a bad flag, a missing file,
 * an unknown app). Errors are one line on stderr.
 *
 * Output goes to stdout (the coordinator's address first, then the summary and where the output
 * is); progress goes to stderr: a one-line bar on a terminal, log lines otherwise.
 * @since 0.1.0
 */
import { Args, Command, Options } from "@effect/cli"
import { type CommandExecutor, Command as Process, FileSystem } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Clock, Console, Duration, Effect, Either, Fiber, Option, Queue, type Scope } from "effect"
import { resolve } from "node:path"
import * as App from "../mapreduce/App.js"
import * as Coordinator from "../mapreduce/Coordinator.js"
import * as Progress from "../mapreduce/Progress.js"
import * as Scheduler from "../mapreduce/Scheduler.js"
import * as Sequential from "../mapreduce/Sequential.js"
import * as Worker from "../mapreduce/Worker.js"
import { isProcessAlive } from "../internal/process.js"
import * as Tcp from "../rpc/Tcp.js"
import { selfCommand } from "./internal/children.js"
import { Transport } from "../rpc/Transport.js"
import { ExitCode, fail as failWith } from "./internal/exit.js"
import { choiceOption, durationOption, durationValue, integerOption, reason } from "./internal/flags.js"

const fail = (exitCode: number, command: string, message: string) => failWith(`mr ${command}`, exitCode, message)

// -- flags -----------------------------------------------------------------------------------------

const positive = (name: string, fallback: number, description: string) =>
  integerOption(name, { min: 1, fallback, description })

const appOption = Options.text("app").pipe(
  Options.withPseudoName("APP"),
  Options.withDescription(
    `the application: a built-in (${App.builtinNames.join(", ")}) or the path of a module exporting map and reduce`
  )
)
const dirOption = Options.text("dir").pipe(
  Options.withPseudoName("DIR"),
  Options.withDefault("."),
  Options.withDescription("the job directory: intermediate files and the outputs mr-out-<r> (default .)")
)
const reducesOption = positive("reduces", 10, "number of reduce tasks, i.e. of output files")
const leaseOption = durationOption(
  "lease",
  "10s",
  "a task not reported this long after it was assigned is assigned again",
  { positive: true }
)
const noBackupsOption = Options.boolean("no-backups").pipe(
  Options.withDescription("never start backup attempts of straggling tasks near the end of a phase")
)
const keepOption = Options.boolean("keep-intermediate").pipe(
  Options.withDescription("keep the intermediate files mr-<m>-<r> after the job (default: removed)")
)
const progressOption = choiceOption(
  "progress",
  ["auto", "bar", "log", "none"],
  "auto",
  "progress on stderr: auto is a bar on a terminal, log lines otherwise"
)
const filesArg = Args.text({ name: "FILE" }).pipe(
  Args.atLeast(1),
  Args.withDescription("input files; each is one map task")
)

// -- shared steps ----------------------------------------------------------------------------------

/** Every input must be a readable file; returns their total size. */
const checkInputs = (command: string, files: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    let total = 0
    for (const file of files) {
      const unreadable = (e: PlatformError) => fail(ExitCode.BadInput, command, `cannot read ${file}: ${reason(e)}`)
      const info = yield* fs.stat(file).pipe(Effect.catchAll(unreadable))
      if (info.type !== "File") return yield* fail(ExitCode.BadInput, command, `${file} is not a file`)
      yield* fs.access(file, { readable: true }).pipe(Effect.catchAll(unreadable))
      total += Number(info.size)
    }
    return total
  })

const loadApp = (command: string, spec: string) =>
  App.load(spec).pipe(Effect.catchAll((e) => fail(ExitCode.BadInput, command, e.message)))

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`

const exitProcess = (code: number): Effect.Effect<never> =>
  Effect.zipRight(Effect.sync(() => process.exit(code)), Effect.never)

/** Whether the process `id` exists (worker ids are process ids). Non-numeric ids count as alive. */
const pidAlive = (id: string): Effect.Effect<boolean> =>
  Effect.sync(() => {
    const pid = Number(id)
    return !Number.isSafeInteger(pid) || pid <= 0 || isProcessAlive(pid)
  })

const progressMode = (mode: "auto" | "bar" | "log" | "none"): Progress.Mode =>
  mode === "auto" ? (process.stderr.isTTY ? "bar" : "log") : mode

const writeStderr = (text: string) => Effect.sync(() => void process.stderr.write(text))

interface CoordinatorOptions {
  readonly files: ReadonlyArray<string>
  readonly reduces: number
  readonly dir: string
  readonly lease: Duration.Duration
  readonly noBackups: boolean
  readonly keepIntermediate: boolean
  readonly progress: "auto" | "bar" | "log" | "none"
  readonly host: string
  readonly port: number
}

/** Starts a coordinator on TCP with progress rendering; returns it, its address, and how to stop the progress. */
const startCoordinator = (command: string, o: CoordinatorOptions) =>
  Effect.gen(function*() {
    const tcp = yield* Tcp.make({ self: "coordinator", listen: { host: o.host, port: o.port } }).pipe(
      Effect.catchTag("ListenError", (e) => fail(ExitCode.Failed, command, e.message))
    )
    const notices = yield* Queue.unbounded<Progress.TimedNotice>()
    const config = Coordinator.makeConfig({
      inputs: o.files,
      nReduce: o.reduces,
      dir: o.dir,
      leaseMs: Duration.toMillis(o.lease),
      backup: o.noBackups ? undefined : Scheduler.defaultBackupPolicy,
      keepIntermediate: o.keepIntermediate,
      onNotice: (notice, atMs) => void Queue.unsafeOffer(notices, { notice, atMs })
    })
    const coordinator = yield* Coordinator.make(config).pipe(
      Effect.provideService(Transport, tcp),
      Effect.catchAll((e) => fail(ExitCode.Failed, command, `cannot use ${o.dir}: ${reason(e)}`))
    )
    const progress = Progress.render({
      mode: progressMode(o.progress),
      status: coordinator.status,
      notices,
      config,
      write: writeStderr
    })
    const fiber = yield* Effect.forkScoped(progress.loop)
    const stopProgress = Effect.zipRight(Fiber.interrupt(fiber), progress.finish)
    return { coordinator, address: `${tcp.address!.host}:${tcp.address!.port}`, stopProgress, log: progress.log }
  })

const printSummary = (summary: Coordinator.JobSummary) =>
  Effect.gen(function*() {
    const p = summary.progress
    const s = summary.stats
    const input = s["map.input.bytes"] ?? 0
    const rate = Progress.mbPerSecond(input, summary.elapsedMs).toFixed(1)
    yield* Console.log(
      `job done in ${secs(summary.elapsedMs)}: ${p.maps.total} map and ${p.reduces.total} reduce tasks, ` +
        `${p.attempts} attempts (${p.reexecutions} re-executions, ${p.backups} backups, ${p.failures} failures); ` +
        `input ${mb(input)} (${rate} MB/s), ${s["reduce.output.records"] ?? 0} output lines`
    )
    const first = summary.outputs[0]!
    const files = summary.outputs.length === 1 ? first : `${first} … ${summary.outputs.at(-1)!}`
    const pattern = first.replace(/mr-out-0$/, "mr-out-*")
    yield* Console.log(`output: ${files} (${summary.outputs.length} files; all of it: sort ${pattern})`)
    const counters = Object.entries(summary.counters)
    if (counters.length > 0) yield* Console.log(`counters: ${counters.map(([k, v]) => `${k}=${v}`).join(" ")}`)
  })

// -- sequential ------------------------------------------------------------------------------------

const sequential = Command.make(
  "sequential",
  {
    app: appOption,
    dir: dirOption,
    out: Options.text("out").pipe(
      Options.withPseudoName("NAME"),
      Options.withDefault("mr-out-0"),
      Options.withDescription("output file name (default mr-out-0)")
    ),
    files: filesArg
  },
  (args) =>
    Effect.gen(function*() {
      const bytes = yield* checkInputs("sequential", args.files)
      const app = yield* loadApp("sequential", args.app)
      const start = yield* Clock.currentTimeMillis
      const result = yield* Sequential.run({
        app,
        inputs: args.files,
        dir: args.dir,
        output: args.out,
        crash: exitProcess(1)
      }).pipe(Effect.catchAll((e) => fail(ExitCode.Failed, "sequential", e.message)))
      const ms = (yield* Clock.currentTimeMillis) - start
      yield* Console.log(
        `wrote ${result.output}: ${result.lines} lines from ${args.files.length} files (${mb(bytes)}) in ${secs(ms)}`
      )
    })
).pipe(
  Command.withDescription("run a job in one process, writing one output file (the reference for distributed runs)")
)

// -- coordinator -----------------------------------------------------------------------------------

const coordinator = Command.make(
  "coordinator",
  {
    reduces: reducesOption,
    dir: dirOption,
    host: Options.text("host").pipe(
      Options.withPseudoName("HOST"),
      Options.withDefault("127.0.0.1"),
      Options.withDescription("address to listen on (default 127.0.0.1)")
    ),
    port: integerOption("port", {
      min: 0,
      max: 65535,
      fallback: 0,
      placeholder: "PORT",
      description: "port to listen on; 0 picks a free one"
    }),
    lease: leaseOption,
    grace: durationOption("grace", "1s", "after the job, keep answering workers (\"exit\") this long before exiting"),
    noBackups: noBackupsOption,
    keepIntermediate: keepOption,
    progress: progressOption,
    files: filesArg
  },
  (args) =>
    Effect.scoped(Effect.gen(function*() {
      yield* checkInputs("coordinator", args.files)
      const { coordinator, address, stopProgress } = yield* startCoordinator("coordinator", args)
      yield* Console.log(`coordinator listening on ${address}`)
      const result = yield* Effect.either(coordinator.await)
      yield* Effect.sleep(args.grace)
      yield* stopProgress
      if (Either.isLeft(result)) return yield* fail(ExitCode.Failed, "coordinator", result.left.message)
      yield* printSummary(result.right)
    }))
).pipe(
  Command.withDescription(
    "serve a job to workers on HOST:PORT (printed on the first line); exit when the job is done (0) or failed (1)"
  )
)

// -- worker ----------------------------------------------------------------------------------------

const worker = Command.make(
  "worker",
  {
    coordinator: Options.text("coordinator").pipe(
      Options.withPseudoName("HOST:PORT"),
      Options.withDescription("the coordinator's address")
    ),
    app: appOption,
    dir: dirOption,
    id: Options.text("id").pipe(
      Options.withPseudoName("ID"),
      Options.optional,
      Options.withDescription("this worker's id (default: the process id)")
    )
  },
  (args) =>
    Effect.scoped(Effect.gen(function*() {
      if (!/^[^\s:]+:\d{1,5}$/.test(args.coordinator)) {
        return yield* fail(ExitCode.BadInput, "worker", `--coordinator must be HOST:PORT, got "${args.coordinator}"`)
      }
      const id = Option.getOrElse(args.id, () => String(process.pid))
      if (!/^[A-Za-z0-9_.-]+$/.test(id)) {
        return yield* fail(ExitCode.BadInput, "worker", `--id may hold only letters, digits, _ . -`)
      }
      const app = yield* loadApp("worker", args.app)
      const tcp = yield* Tcp.make({ self: `worker-${id}` }).pipe(Effect.orDie)
      const exit = yield* Worker.run(Worker.makeConfig({
        id,
        coordinator: args.coordinator,
        app,
        dir: args.dir,
        isAlive: pidAlive,
        crash: exitProcess(1)
      })).pipe(Effect.provideService(Transport, tcp))
      if (!exit.reachedCoordinator) {
        return yield* fail(ExitCode.Failed, "worker", `cannot reach the coordinator at ${args.coordinator}`)
      }
      yield* Effect.logDebug(`worker ${id}: ${exit.reason} after ${exit.tasks} tasks`)
    }))
).pipe(
  Command.withDescription(
    "ask the coordinator for tasks and run them until the job is over or the coordinator is gone"
  )
)

// -- run -------------------------------------------------------------------------------------------

/** This CLI run again with `args`, sharing our stdout and stderr. */
const selfProcess = (args: ReadonlyArray<string>) => {
  const [command, argv] = selfCommand(args)
  return Process.make(command, ...argv).pipe(Process.stdout("inherit"), Process.stderr("inherit"))
}

const run = Command.make(
  "run",
  {
    app: appOption,
    workers: positive("workers", 2, "number of worker processes"),
    reduces: reducesOption,
    dir: dirOption,
    lease: leaseOption,
    noBackups: noBackupsOption,
    keepIntermediate: keepOption,
    maxRestarts: integerOption("max-restarts", {
      min: 0,
      fallback: 10,
      description: "restart a worker that exits with an error while the job runs, at most this many times in all"
    }),
    timeout: Options.text("timeout").pipe(
      Options.withPseudoName("DURATION"),
      Options.mapEffect((text) => durationValue("timeout", text, "try 60s, 5m")),
      Options.optional,
      Options.withDescription("fail the job if it is not done within this time (default: no limit)")
    ),
    progress: progressOption,
    files: filesArg
  },
  (args) =>
    Effect.scoped(Effect.gen(function*() {
      const bytes = yield* checkInputs("run", args.files)
      yield* loadApp("run", args.app)
      const builtin = App.builtinNames.includes(args.app)
      const appSpec = builtin ? args.app : resolve(args.app)
      const dir = resolve(args.dir)
      const { coordinator, address, stopProgress, log } = yield* startCoordinator("run", {
        ...args,
        dir,
        host: "127.0.0.1",
        port: 0
      })
      yield* Console.log(
        `concord mr run: ${args.app} over ${args.files.length} files (${mb(bytes)}), ${args.workers} workers, ` +
          `${args.reduces} reduce tasks; coordinator on ${address}`
      )
      const workerArgs = ["mr", "worker", "--coordinator", address, "--app", appSpec, "--dir", dir]
      let restartsLeft = args.maxRestarts
      // One supervisor per worker slot: start the process; if it fails while the job runs, start
      // another (1 s later, as test-mr.sh's loops do) while restarts remain.
      const slot = (n: number): Effect.Effect<void, never, Scope.Scope | CommandExecutor.CommandExecutor> =>
        Effect.gen(function*() {
          for (;;) {
            const code = yield* Effect.scoped(
              Effect.flatMap(Process.start(selfProcess(workerArgs)), (proc) => proc.exitCode)
            ).pipe(Effect.either)
            const finished = yield* coordinator.finished
            const ok = Either.isRight(code) && code.right === 0
            if (finished || ok) return
            const why = Either.isRight(code) ? `code ${code.right}` : code.left.message
            if (restartsLeft <= 0) {
              yield* log(`worker ${n} exited (${why}); no restarts left`)
              return
            }
            restartsLeft--
            yield* log(`worker ${n} exited (${why}); restarting it`)
            yield* Effect.sleep("1 second")
          }
        })
      const slots = yield* Effect.forEach(
        Array.from({ length: args.workers }, (_, i) => i + 1),
        (n) => Effect.forkScoped(slot(n))
      )
      const allWorkersGone = Effect.zipRight(
        Fiber.joinAll(slots),
        Effect.fail(new Coordinator.JobFailed({ reason: "every worker exited before the job was done" }))
      )
      const limit = Option.match(args.timeout, {
        onNone: () => Effect.never,
        onSome: (d) =>
          Effect.zipRight(
            Effect.sleep(d),
            Effect.fail(new Coordinator.JobFailed({ reason: `not done within ${Duration.format(d)}` }))
          )
      })
      const result = yield* Effect.either(Effect.raceAll([coordinator.await, allWorkersGone, limit]))
      yield* stopProgress
      if (Either.isLeft(result)) return yield* fail(ExitCode.Failed, "run", result.left.message)
      // The workers hear "exit" at their next request; give them a moment, then the scope kills any left.
      yield* Fiber.joinAll(slots).pipe(Effect.timeout("5 seconds"), Effect.ignore)
      yield* printSummary(result.right)
      // Wall time since this process started (Node and module loading included), for people timing a run.
      yield* Console.log(`total ${secs(process.uptime() * 1000)} since concord started, worker start-up included`)
    }))
).pipe(
  Command.withDescription(
    "run a job on this machine: a coordinator on 127.0.0.1 and N worker processes; restarts workers that crash; " +
      "exit 0 when done, 1 if the job failed"
  )
)

/** The `mr` subcommand. */
export const command = Command.make("mr").pipe(
  Command.withDescription(
    "MapReduce: run a job sequentially, as a coordinator and workers, or all at once on this machine"
  ),
  Command.withSubcommands([run, sequential, coordinator, worker])
)
