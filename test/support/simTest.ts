/**
 * `simTest`: a vitest test whose body runs inside a deterministic `Simulation`.
 *
 * - `SEED=<n>` replays seed n bit for bit; without it each run draws a fresh seed.
 * - A failure names its seed and the command that replays it.
 * - `CONCORD_SWEEP=<count>` runs count seeds (see `npm run sweep`), reports every failing seed, and
 *   appends per-test statistics to the file named by `CONCORD_SWEEP_REPORT`.
 */
import { Cause, Context, type Duration, Effect, Exit, type Scope } from "effect"
import { randomInt } from "node:crypto"
import { appendFileSync } from "node:fs"
import { expect, it } from "vitest"
import * as Simulation from "../../src/sim/Simulation.js"

/** The seed of the running simulated test, and its name (for artifacts such as HTML views of histories). */
export class TestRun extends Context.Tag("test/TestRun")<TestRun, { readonly seed: number; readonly name: string }>() {}

export interface SimTestOptions {
  /** Simulated-time budget of one run (the 6.824 tests have 120 s). Default 120 s. */
  readonly timeLimit?: Duration.DurationInput
  /** Wall-clock backstop for the whole vitest test, in ms. Default 120 000. */
  readonly wallTimeoutMs?: number
}

/** One line of the sweep report (`CONCORD_SWEEP_REPORT`): a test's seeds, failing seeds and time. */
export interface SweepReport {
  readonly file: string
  readonly name: string
  readonly seeds: number
  readonly failures: ReadonlyArray<number>
  readonly simulatedMs: number
  readonly wallMs: number
}

export const simTest = (
  name: string,
  body: Effect.Effect<void, unknown, Scope.Scope | TestRun>,
  options: SimTestOptions = {}
) => {
  const plan = Simulation.seedPlan(process.env, () => randomInt(1, 2 ** 31 - 1))
  return it(name, async () => {
    const file = expect.getState().testPath ?? ""
    const failures: Array<{ seed: number; text: string }> = []
    let simulatedMs = 0
    let wallMs = 0
    for (const seed of plan.seeds) {
      const { exit, stats } = await Simulation.run(Effect.scoped(body).pipe(Effect.provideService(TestRun, { seed, name })), {
        seed,
        timeLimit: options.timeLimit ?? "120 seconds"
      })
      simulatedMs += stats.simulatedMs
      wallMs += stats.wallMs
      if (Exit.isFailure(exit)) {
        failures.push({ seed, text: `at t=${stats.simulatedMs}ms: ${Cause.pretty(exit.cause)}` })
        if (!plan.sweep) break
      }
    }
    if (process.env.CONCORD_SWEEP_REPORT) {
      appendFileSync(
        process.env.CONCORD_SWEEP_REPORT,
        JSON.stringify({ file, name, seeds: plan.seeds.length, failures: failures.map((f) => f.seed), simulatedMs, wallMs } satisfies SweepReport) +
          "\n"
      )
    }
    if (failures.length > 0) {
      const first = failures[0]!
      const replay = `SEED=${first.seed} npx vitest run ${file.replace(process.cwd() + "/", "")} -t "${name}"`
      throw new Error(
        `${name} failed for seed${failures.length > 1 ? "s" : ""} ${failures.map((f) => f.seed).join(", ")}\n` +
          `replay: ${replay}\n${first.text}`
      )
    }
  }, (options.wallTimeoutMs ?? 120_000) * plan.seeds.length) // a sweep runs its seeds in one vitest test
}
