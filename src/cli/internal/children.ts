/**
 * Child `concord` processes for `cluster up` and the demo: spawned with this process's own Node, flags
 * and entry point (so it works from the bundle and from source), stopped (SIGTERM, then SIGKILL after
 * 5 s) when their scope closes.
 *
 * Children die with their parent, however it dies: each child's stdin is a pipe this process holds the
 * only write end of and never writes to, and a child started with `--exit-with-stdin` stops when it
 * reads end-of-file, which happens when this process exits, even by SIGKILL (the kernel closes its
 * descriptors). Children run in their own process group (`detached`), so a Ctrl-C at the terminal
 * reaches only this process, which then stops them in order rather than all at once.
 * @internal
 */
import { Clock, Deferred, Duration, Effect, Either, type Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as net from "node:net"

export interface Child {
  readonly name: string
  readonly process: ChildProcess
  /** The first line the child printed on stdout (its "listening" line), or its exit if it died first. */
  readonly ready: Deferred.Deferred<string, ChildExit>
  /** Completes with the exit code (or the signal) when the child exits. */
  readonly exited: Deferred.Deferred<ChildExit>
  /** The last lines the child wrote to stderr (for error reports). */
  readonly lastErrors: Array<string>
}

export interface ChildExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly lastError: string | undefined
}

export const describeExit = (e: ChildExit) =>
  (e.signal !== null ? `killed by ${e.signal}` : `exited with code ${e.code}`) + (e.lastError ? `: ${e.lastError}` : "")

/** The command line that runs this same `concord` (bundle or source) with `args`. */
export const selfCommand = (args: ReadonlyArray<string>): [string, Array<string>] => [
  process.execPath,
  [...process.execArgv, process.argv[1]!, ...args]
]

/** Spawns `concord <args>`; `onStderr` sees each stderr line. Stopped when the scope closes. */
export const spawnConcord = (
  name: string,
  args: ReadonlyArray<string>,
  onStderr: (line: string) => void
): Effect.Effect<Child, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const [command, argv] = selfCommand(args)
      const child = spawn(command, argv, { stdio: ["pipe", "pipe", "pipe"], detached: true })
      // Never written to; an error here only means the child is gone, which "exit" reports.
      child.stdin!.on("error", () => {})
      const ready = Deferred.unsafeMake<string, ChildExit>(undefined as any)
      const exited = Deferred.unsafeMake<ChildExit>(undefined as any)
      const lastErrors: Array<string> = []
      let stdoutBuffer = ""
      child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
        stdoutBuffer += chunk
        const nl = stdoutBuffer.indexOf("\n")
        if (nl >= 0) Deferred.unsafeDone(ready, Effect.succeed(stdoutBuffer.slice(0, nl)))
      })
      let stderrBuffer = ""
      child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
        stderrBuffer += chunk
        let nl: number
        while ((nl = stderrBuffer.indexOf("\n")) >= 0) {
          const line = stderrBuffer.slice(0, nl)
          stderrBuffer = stderrBuffer.slice(nl + 1)
          lastErrors.push(line)
          if (lastErrors.length > 20) lastErrors.shift()
          onStderr(line)
        }
      })
      child.on("exit", (code, signal) => {
        // A process that fails says why in its last line; one killed by a signal said nothing about it,
        // and its last line is only whatever it logged before.
        const lastError = code !== null && code !== 0 ? lastErrors.filter((l) => l.trim().length > 0).at(-1) : undefined
        const e: ChildExit = { code, signal, lastError }
        Deferred.unsafeDone(ready, Effect.fail(e))
        Deferred.unsafeDone(exited, Effect.succeed(e))
      })
      child.on("error", (err) => {
        const e: ChildExit = { code: null, signal: null, lastError: err.message }
        Deferred.unsafeDone(ready, Effect.fail(e))
        Deferred.unsafeDone(exited, Effect.succeed(e))
      })
      return { name, process: child, ready, exited, lastErrors }
    }),
    (child) => stop(child)
  )

/** SIGTERM, then SIGKILL if the child has not exited within 5 s. */
export const stop = (child: Child): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (yield* Deferred.isDone(child.exited)) return
    child.process.kill("SIGTERM")
    const done = yield* Deferred.await(child.exited).pipe(Effect.timeout("5 seconds"), Effect.option)
    if (done._tag === "None") {
      child.process.kill("SIGKILL")
      yield* Deferred.await(child.exited).pipe(Effect.timeout("5 seconds"), Effect.ignore)
    }
  })

/** Whether `host:port` can be bound right now (false: something listens there). */
export const portFree = (host: string, port: number): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    const server = net.createServer()
    server.once("error", () => resume(Effect.succeed(false)))
    server.listen(port, host, () => server.close(() => resume(Effect.succeed(true))))
  })

/** A free port on `host`, chosen by the OS. */
export const freePort = (host = "127.0.0.1"): Effect.Effect<number> =>
  Effect.async<number>((resume) => {
    const server = net.createServer()
    server.listen(0, host, () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resume(Effect.succeed(port)))
    })
  })

// A node that ran this long before exiting was healthy: its next failure starts the backoff afresh.
const HEALTHY_MS = 10_000
const MAX_BACKOFF_MS = 30_000

/** The pause before restart number `failures` (1, 2, …) in a row of quick failures: 1 s, 2 s, 4 s, … 30 s. */
export const backoffMs = (failures: number): number => Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (failures - 1))

/**
 * Runs child `id` (made by `start`) for as long as the scope lasts: starts it, reports its first start (or first failure)
 * in `first`, and restarts it whenever it exits, saying so. Interrupting the fiber stops the node.
 */
export const supervise = (
  id: string,
  start: () => Effect.Effect<Child, never, Scope.Scope>,
  say: (line: string) => void,
  first: Deferred.Deferred<Child, string>
) =>
  Effect.gen(function*() {
    let failures = 0
    for (let incarnation = 0; ; incarnation++) {
      const started = yield* Clock.currentTimeMillis
      const exit: ChildExit | undefined = yield* Effect.scoped(Effect.gen(function*() {
        const child = yield* start()
        const ready = yield* Effect.either(Deferred.await(child.ready).pipe(Effect.timeout("20 seconds")))
        if (Either.isLeft(ready)) {
          const why = "code" in ready.left ? describeExit(ready.left) : "did not start within 20 s"
          if (incarnation === 0) {
            yield* Deferred.fail(first, `node ${id} ${why}`)
            return undefined
          }
          say(`[${id}] ${why}`)
          // Not started in time: closing the scope stops it.
          return "code" in ready.left ? ready.left : { code: null, signal: null, lastError: undefined }
        }
        if (incarnation === 0) yield* Deferred.succeed(first, child)
        else say(`[${id}] restarted (pid ${child.process.pid})`)
        const e = yield* Deferred.await(child.exited)
        say(`[${id}] ${describeExit(e)}`)
        return e
      }))
      if (exit === undefined) return
      failures = (yield* Clock.currentTimeMillis) - started >= HEALTHY_MS ? 1 : failures + 1
      const pause = backoffMs(failures)
      say(`[${id}] restarting it in ${Duration.format(Duration.millis(pause))} (restart ${incarnation + 1})`)
      yield* Effect.sleep(Duration.millis(pause))
    }
  })
