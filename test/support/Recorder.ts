/**
 * A history of clients' key/value operations in a simulation, and its linearizability check: the part
 * of the harnesses of the key/value and the sharded key/value services that records what clerks do.
 * Times are simulated time made strict by an event counter (order within an instant). `check` fails on
 * Illegal or Unknown (budget exhausted), after writing the HTML view of the history under
 * test-output/<dir>/ and naming the file.
 */
import { Clock, Effect } from "effect"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as HtmlView from "../../src/check/HtmlView.js"
import * as Linearizability from "../../src/check/Linearizability.js"
import * as KvModel from "../../src/check/models/Kv.js"

/** Real-time budget of each linearizability check (the original's is 1 s, and a timeout passes there). */
const CHECK_BUDGET_MS = 30_000

export class Failed extends Error {
  override readonly name = "Failed"
}

export const makeRecorder = (run: { readonly name: string; readonly seed: number }, dir: string) => {
  const history: Array<KvModel.Operation> = []
  let events = 0
  let ops = 0
  const stamp = Effect.map(Clock.currentTimeMillis, (ms) => ms * 1_000_000 + (events++ % 1_000_000))

  /** Runs `op` as client `cli`'s `input`, recording its call, return and output. */
  const record = <A, E, R>(cli: number, input: KvModel.KvInput, op: Effect.Effect<A, E, R>, output: (a: A) => KvModel.KvOutput) =>
    Effect.gen(function*() {
      const call = yield* stamp
      const a = yield* op
      const ret = yield* stamp
      history.push({ clientId: cli, input, output: output(a), call, return: ret })
      ops++
      return a
    })

  /** Checks the recorded history; Illegal or Unknown fails, after writing the HTML view. */
  const check = Effect.suspend(() => {
    const result = Linearizability.checkHistory(KvModel.model, history, {
      timeoutMs: CHECK_BUDGET_MS,
      now: () => performance.now()
    })
    if (Linearizability.isOk(result)) return Effect.void
    const out = join(process.cwd(), "test-output", dir)
    mkdirSync(out, { recursive: true })
    const file = join(out, `${run.name.replace(/[^A-Za-z0-9]+/g, "_")}-seed-${run.seed}.html`)
    writeFileSync(file, HtmlView.render(KvModel.model, history, result, { title: `${run.name} (seed ${run.seed})` }))
    const what = Linearizability.isIllegal(result) ? "history is not linearizable" : "linearizability check timed out"
    return Effect.fail(new Failed(`${what}; view: ${file}\n${Linearizability.explain(KvModel.model, history, result)}`))
  })

  return { history, record, check, opCount: () => ops }
}
