/**
 * `npm run bench -- check [--quick]`: linearizability checking throughput on generated KV histories
 * (1k, 10k and 100k operations on 10 and 1,000 keys; 10 clients whose operations overlap), all
 * linearizable by construction, so every operation is checked.
 *
 * Reference, measured in the same run: replaying the model along the known linearization (the order
 * the generator executed the operations in), i.e. the cost of applying each operation once. The ratio
 * is what the search costs on top of that: sorting events, trying candidates, the cache.
 */
import * as Linearizability from "../src/check/Linearizability.js"
import * as Kv from "../src/check/models/Kv.js"
import { linearizableKv } from "../test/check/support/histories.js"

interface Row {
  readonly ops: number
  readonly keys: number
  readonly clients?: number
  readonly overlap?: number
  readonly label?: string
  readonly pending?: number
  readonly get?: number
  readonly put?: number
}

const CLIENTS = 10
const OVERLAP = 8

const rows: ReadonlyArray<Row> = [
  { ops: 1_000, keys: 10 },
  { ops: 1_000, keys: 1_000 },
  { ops: 10_000, keys: 10 },
  { ops: 10_000, keys: 1_000 },
  { ops: 100_000, keys: 10 },
  { ops: 100_000, keys: 1_000 },
  { ops: 100_000, keys: 1_000, pending: 0.01, label: "default mix, 1% never returned" },
  // GenericTest with randomkeys (SPEC-6824 §3.3): 15 clients on 15 keys, get 40%, put 10%, append 50%.
  { ops: 10_000, keys: 15, clients: 15, get: 0.4, put: 0.1, label: "6.824 randomkeys mix, 15 clients" },
  // One hot key with concurrent appends: orders between reads are what the search explores.
  { ops: 10_000, keys: 1, clients: 5, overlap: 4, get: 0.4, put: 0.1, label: "one hot key, 5 clients, append 50%" }
]

// Best of several runs (at least `minMs` of work), to get past JIT warm-up and GC noise.
const time = (f: () => void, minMs: number): number => {
  let best = Number.POSITIVE_INFINITY
  let spent = 0
  let runs = 0
  while (runs < 3 || (spent < minMs && runs < 50)) {
    const start = performance.now()
    f()
    const ms = performance.now() - start
    best = Math.min(best, ms)
    spent += ms
    runs++
  }
  return best
}

const replay = (history: Kv.History, order: ReadonlyArray<number>): boolean => {
  const states = new Map<string, Kv.State>()
  for (const i of order) {
    const op = history[i]!
    const key = op.input.key
    const output = op.return == null ? undefined : op.output
    const [legal, next] = Kv.model.step(states.get(key) ?? Kv.model.initial, op.input, output)
    if (!legal) return false
    states.set(key, next)
  }
  return true
}

export async function run(args: ReadonlyArray<string>): Promise<void> {
  const quick = args.includes("--quick")
  const selected = quick ? rows.filter((r) => r.ops <= 10_000) : rows
  console.log(
    `${CLIENTS} clients unless noted; each operation's interval reaches up to ${OVERLAP} time units on either side`
  )
  console.log("of its linearization point (linearization points are 1-3 units apart), so up to ~8 operations overlap")
  console.log("")
  console.log("operations   keys  checked ops/s   steps/op   check ms   replay ms   check/replay  history")
  for (const row of selected) {
    const { history, points, applied } = linearizableKv({
      ops: row.ops,
      keys: row.keys,
      clients: row.clients ?? CLIENTS,
      overlap: row.overlap ?? OVERLAP,
      seed: row.ops + row.keys,
      ...(row.pending !== undefined ? { pending: row.pending } : {}),
      ...(row.get !== undefined ? { get: row.get } : {}),
      ...(row.put !== undefined ? { put: row.put } : {})
    })
    const order = Array.from(history.keys()).filter((i) => applied[i]).sort((a, b) => points[a]! - points[b]!)
    let result: Linearizability.CheckResult<Kv.State> | undefined
    const checkMs = time(() => {
      result = Linearizability.checkHistory(Kv.model, history, { timeoutMs: 60_000, now: () => performance.now() })
    }, 1000)
    if (result?._tag !== "Ok") {
      throw new Error(`expected Ok for ${row.ops} ops on ${row.keys} keys, got ${result?._tag}`)
    }
    const replayMs = time(() => {
      if (!replay(history, order)) throw new Error("the generated order does not replay")
    }, 200)
    console.log(
      [
        String(row.ops).padStart(10),
        String(row.keys).padStart(6),
        Math.round(row.ops / (checkMs / 1000)).toLocaleString("en-US").padStart(15),
        (result.steps / row.ops).toFixed(2).padStart(10),
        checkMs.toFixed(1).padStart(10),
        replayMs.toFixed(2).padStart(11),
        `${(checkMs / replayMs).toFixed(1)}x`.padStart(14),
        ` ${row.label ?? "get 50%, put 25%, append 25%"}`
      ].join(" ")
    )
  }
}
