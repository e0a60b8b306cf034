/**
 * `npm run bench -- check [--quick] [--hot-only | --table-only] [--pruned-budget S] [--plain-budget S]`: linearizability checking throughput on generated KV histories
 * (1k, 10k and 100k operations on 10 and 1,000 keys; 10 clients whose operations overlap), all
 * linearizable by construction, so every operation is checked.
 *
 * Reference, measured in the same run: replaying the model along the known linearization (the order
 * the generator executed the operations in), i.e. the cost of applying each operation once. The ratio
 * is what the search costs on top of that: sorting events, trying candidates, the cache.
 *
 * Then the hot-key table (issue 14): one key, 10/16/20 clients, 500-4,000 operations, mostly appends,
 * 0% or 15% never returned, values that are or are not prefixes of each other, each history with its
 * twin whose one read returns another read's output; checked by the plain and the pruned search under
 * a wall-clock budget each (pruned 20 s, plain 2 s by default: `--plain-budget 20` gives it as much).
 * Rows count the histories decided and not, and the checked operations per second over the decided.
 */
import * as Linearizability from "../src/check/Linearizability.js"
import * as Kv from "../src/check/models/Kv.js"
import { linearizableKv } from "../test/check/support/histories.js"
import { hotKeyHistory, twin } from "../test/check/support/hotkey.js"

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
  if (!args.includes("--hot-only")) await runTable(quick)
  if (!args.includes("--table-only")) await runHotKey(args, quick)
}

async function runTable(quick: boolean): Promise<void> {
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

interface HotRow {
  readonly clients: number
  readonly ops: number
}

const hotRows: ReadonlyArray<HotRow> = [10, 16, 20].flatMap((clients) =>
  [500, 2_000, 4_000].map((ops) => ({ clients, ops }))
)

const flagValue = (args: ReadonlyArray<string>, name: string, fallback: number): number => {
  const i = args.indexOf(name)
  return i >= 0 && i + 1 < args.length ? Number(args[i + 1]) : fallback
}

async function runHotKey(args: ReadonlyArray<string>, quick: boolean): Promise<void> {
  const prunedBudget = flagValue(args, "--pruned-budget", quick ? 5 : 20) * 1000
  const plainBudget = flagValue(args, "--plain-budget", quick ? 1 : 2) * 1000
  const selected = quick ? hotRows.filter((r) => r.ops <= 2_000) : hotRows
  console.log("")
  console.log(
    `hot key: one key; append 75%, put 5%, get 20%; 0% and 15% never returned; values prefixes of each other or not;`
  )
  console.log(
    `each history and its twin with one read changed to another read's output; budget per history: ` +
      `pruned ${prunedBudget / 1000} s, plain ${plainBudget / 1000} s`
  )
  console.log("")
  console.log("clients  operations  histories  search   decided  (ok/illegal)  undecided   ops/s (decided)")
  for (const row of selected) {
    const histories: Array<{ readonly history: Kv.History; readonly original: boolean }> = []
    for (const pending of [0, 0.15]) {
      for (const prefixes of [false, true]) {
        const h = hotKeyHistory({ ...row, pending, prefixes, seed: row.ops + row.clients + (prefixes ? 1 : 0) })
        histories.push({ history: h.history, original: true })
        const other = twin(h, "otherRead", 41)
        if (other !== undefined) histories.push({ history: other, original: false })
      }
    }
    const verdicts = new Map<Linearizability.SearchMode, Array<string>>()
    for (const search of ["plain", "pruned"] as const) {
      let ok = 0
      let illegal = 0
      let undecided = 0
      let decidedOps = 0
      let decidedMs = 0
      const tags: Array<string> = []
      for (const { history, original } of histories) {
        const start = performance.now()
        const result = Linearizability.checkHistory(Kv.model, history, {
          search,
          timeoutMs: search === "pruned" ? prunedBudget : plainBudget,
          now: () => performance.now()
        })
        const ms = performance.now() - start
        tags.push(result._tag)
        if (result._tag === "Unknown") {
          undecided++
          continue
        }
        if (original && result._tag !== "Ok") throw new Error(`${search}: a generated history is ${result._tag}`)
        if (result._tag === "Ok") ok++
        else illegal++
        decidedOps += history.length
        decidedMs += ms
      }
      verdicts.set(search, tags)
      console.log(
        [
          String(row.clients).padStart(7),
          String(row.ops).padStart(11),
          String(histories.length).padStart(10),
          ` ${search.padEnd(7)}`,
          String(ok + illegal).padStart(8),
          `(${ok}/${illegal})`.padStart(14),
          String(undecided).padStart(10),
          (decidedMs > 0 ? Math.round(decidedOps / (decidedMs / 1000)).toLocaleString("en-US") : "-").padStart(17)
        ].join(" ")
      )
    }
    // Where both decided, they must agree.
    const plain = verdicts.get("plain")!
    verdicts.get("pruned")!.forEach((tag, i) => {
      if (tag !== "Unknown" && plain[i] !== "Unknown" && tag !== plain[i]) {
        throw new Error(`pruned says ${tag}, plain ${plain[i]} on a hot-key history`)
      }
    })
  }
}
