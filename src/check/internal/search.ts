/**
 * The linearizability search of one partition: Wing & Gong's backtracking with Lowe's cache of
 * (linearized set, state) pairs, as in Porcupine, made resumable and free of recursion.
 *
 * Events (calls and returns) sit in a doubly linked list in time order. The search walks the list
 * from its head: at a call it tries to linearize that operation next (the model step must be legal
 * and the resulting (set, state) pair new); on success it lifts the call and its return out of the
 * list and restarts from the head. Reaching a return means the operation of that return should
 * already have been linearized: a dead end, so it pops the last linearized operation, puts its events
 * back and tries the call after it. The list empties when every operation is linearized (Ok); the
 * stack empties at a return when no order works (Illegal). A model with a `lookahead` may declare a
 * new state a dead end (nothing remaining can follow it); the search then backtracks at once.
 * An operation that never returned has its return event at +infinity, after every other event, as in
 * Porcupine: it may take effect anywhere after its call, and at the very end if nowhere else.
 *
 * Representation, chosen so a long history costs O(1) memory and time per step:
 * - The explicit stack holds search nodes; `run(budget)` stops after `budget` steps and resumes later,
 *   so several partitions can share one budget round-robin and a caller can poll a deadline.
 * - Every successful step creates a node (parent, operation, depth, state). Nodes are also the cache
 *   entries: a node stands for the set of operations on its path from the root, so an entry costs a
 *   few ints instead of a copy of the set.
 * - The current set is a `Bitset` plus two 32-bit Zobrist hashes updated by XOR at each step.
 * - Cache lookup: a chained hash table on the set hash (mixed with the model's state hash, if any).
 *   Equal hashes are confirmed exactly: same depth, then a walk up the candidate node's path until it
 *   joins the current path, checking each operation is in the current bitset (equal sizes make
 *   inclusion equality), then `equals` on the states. The walk is as long as the two paths differ,
 *   typically a handful of concurrent operations.
 * @internal
 */
import { Equal } from "effect"
import type { Operation } from "../History.js"
import type { Model, PruneRules, Pruning, Remaining } from "../Model.js"
import { Bitset, sharedZobristKeys } from "./bitset.js"

export const RUNNING = 0
export const OK = 1
export const ILLEGAL = 2
export type SearchStatus = typeof RUNNING | typeof OK | typeof ILLEGAL

const NONE = -1
// A cursor value: the state just reached is a dead end (the model's lookahead), so backtrack.
const DEAD = -2
const noHash = (): number => 0
const noLinearized = (): boolean => false
// The hash chain link of a node that is not in the cache (the root, and rule (c)'s inner chain nodes).
const UNCACHED = -3
// What the plain search holds in place of the pruned search's per-depth arrays (never read there).
const NO_BYTES = new Uint8Array(0)
const NO_INTS = new Int32Array(0)
const NO_RULES: PruneRules = { reads: false, dead: false, blind: false, order: false }

// How the node at the next depth was chosen, kept per depth in `mode` (pruned search only):
// NORMAL by the walk in list order; FORCED by rule (a), so if it fails its parent fails too; FIRST by
// rule (d), out of list order, so after it the walk starts again at the head.
const NORMAL = 0
const FORCED = 1
const FIRST = 2
// Rule (c)'s chain "blind writes, then an overwriting write": its first node (ABSORB_START: on failure
// the walk resumes after the overwriting write's call), its inner nodes (ABSORB) and the overwriting
// write's node (CHAIN_END), both of which fail their parent when they fail.
const ABSORB_START = 3
const ABSORB = 4
const CHAIN_END = 5

/** Why a partition is illegal: the state after its longest linearizable prefix and what was tried next. */
export interface Frontier<S> {
  readonly state: S
  /** Local ids of the operations that could come next and are illegal in `state`. */
  readonly attempts: ReadonlyArray<number>
  /** Local ids of the others: legal in `state`, but no order of what remains is then legal (lookahead). */
  readonly deadEnds: ReadonlyArray<number>
  /** Local id of the first unlinearized operation to return: it must have taken effect by then. */
  readonly blocking: number
}

export class PartitionSearch<S, I, O> {
  status: SearchStatus = RUNNING
  /** Steps taken so far (model steps tried plus backtracks). */
  steps = 0

  readonly size: number
  private readonly inputs: Array<I>
  private readonly outputs: Array<O | undefined>
  private readonly modelStep: (state: S, input: I, output: O | undefined) => readonly [boolean, S]
  private readonly pruning: Pruning<S, I, O> | undefined
  // The rest is the pruned search's only: the plain search (`runPlain`, Porcupine's loop) neither
  // allocates nor reads it, so that a history of many small partitions pays no setup for pruning.
  private readonly rules: PruneRules = NO_RULES
  private readonly isLinearized: (op: number) => boolean = noLinearized
  // Pruned search: how the choice at each depth was made, and how the one the cursor is at is made.
  private readonly mode: Uint8Array = NO_BYTES
  private pick = NORMAL
  // Rule (c): never-returned operations left out of the search and put last (local ids).
  private readonly postponed: Array<number> = []
  private readonly scratch: Int32Array = NO_INTS
  // Per depth: the first remaining operation to return at that node (rule c's deadline); the
  // overwriting write a chain is for; where the walk resumes when a chain started there fails.
  private readonly firstReturn: Int32Array = NO_INTS
  private readonly target: Int32Array = NO_INTS
  private readonly resume: Int32Array = NO_INTS
  private readonly equals: (a: S, b: S) => boolean
  private readonly hashState: (state: S) => number
  private readonly lookahead: ((state: S, remaining: Remaining<I, O>) => boolean) | undefined
  private remainingView: Remaining<I, O> | undefined = undefined

  // Events in time order, encoded as op * 2 + (1 for a return); the list links index into it.
  private readonly events: Int32Array
  private readonly next: Int32Array
  private readonly prev: Int32Array
  private readonly callEvent: Int32Array
  private readonly returnEvent: Int32Array
  private readonly head: number
  private cursor: number

  private readonly linearized: Bitset
  private readonly key1: Int32Array
  private readonly key2: Int32Array
  private hash1 = 0
  private hash2 = 0

  // stack[d] is the node at depth d of the current path (stack[0] is the root); NONE past the top.
  private readonly stack: Int32Array
  private depth = 0

  // Nodes, struct-of-arrays; node 0 is the root (empty set, initial state) and is not in the table.
  private nodeCount = 0
  private nodeParent: Int32Array
  private nodeOp: Int32Array
  private nodeDepth: Int32Array
  private nodeHash1: Int32Array
  private nodeHash2: Int32Array
  private nodeStateHash: Int32Array
  private nodeChain: Int32Array
  private readonly states: Array<S> = []
  private buckets: Int32Array

  private bestNode = 0

  /**
   * The search of the operations `history[indices[0]], history[indices[1]], ...` (local ids 0, 1, ...),
   * or of the whole history without `indices`; pruned with `rules` if the model has pruning rules.
   */
  constructor(
    model: Model<S, I, O>,
    history: ReadonlyArray<Operation<I, O>>,
    indices?: ReadonlyArray<number>,
    rules?: PruneRules
  ) {
    const n = indices === undefined ? history.length : indices.length
    this.size = n
    this.equals = model.equals ?? Equal.equals
    this.hashState = model.hash ?? noHash
    this.lookahead = model.lookahead
    this.modelStep = model.step
    this.inputs = new Array<I>(n)
    this.outputs = new Array<O | undefined>(n)
    // Plain arrays: a Float64Array of more than 8 numbers would need a buffer of its own (see below).
    const callTime: Array<number> = []
    const returnTime: Array<number> = []
    let callsSorted = true
    for (let i = 0; i < n; i++) {
      const op = history[indices === undefined ? i : indices[i]!]!
      this.inputs[i] = op.input
      const pending = op.return === undefined || op.return === null
      // An operation that never returned may have had any output: the model sees `undefined`.
      this.outputs[i] = pending ? undefined : op.output
      callTime.push(op.call)
      returnTime.push(pending ? Number.POSITIVE_INFINITY : op.return!)
      if (i > 0 && !(callTime[i - 1]! <= op.call)) callsSorted = false
    }
    const { inputs, outputs } = this
    this.pruning = rules !== undefined && model.prune !== undefined
      ? model.prune(
        inputs.map((input, i) => ({ input, output: outputs[i], call: callTime[i]!, return: returnTime[i]! })),
        rules
      )
      : undefined
    if (this.pruning !== undefined) {
      this.rules = rules!
      this.isLinearized = (op) => this.linearized.has(op)
      this.mode = new Uint8Array(n + 1)
      this.scratch = new Int32Array(n)
      this.firstReturn = new Int32Array(n + 1).fill(NONE)
      this.target = new Int32Array(n + 1).fill(NONE)
      this.resume = new Int32Array(n + 1).fill(NONE)
    }

    // Merge calls and returns by time; on equal times calls first, so touching intervals overlap.
    // Histories are usually recorded in call order: then the sort by call is the identity.
    const byCall = identity(n)
    if (!callsSorted) byCall.sort((a, b) => callTime[a]! - callTime[b]! || a - b)
    const byReturn = sortedBy(returnTime)
    // The arrays of fixed size: the event list, the stack, the bitset and the first node arrays (they
    // grow into arrays of their own). V8 allocates a typed array of up to 64 bytes with the object, a
    // larger one with a buffer of its own, which costs some ten times more: so for a partition of
    // more than a few operations they are all views of one buffer. Enough nodes for the search that
    // never backtracks (a node per operation, and the root).
    const capacity = Math.max(4, Math.min(n + 1, 1 << 20))
    const bucketCount = nextPowerOfTwo(capacity)
    const words = (n + 31) >>> 5
    const memory = 4 * Math.max(2 * n + 1, bucketCount) <= 64
      ? undefined
      : new ArrayBuffer(4 * (2 * n + 2 * (2 * n + 1) + 2 * n + (n + 1) + words + 7 * capacity + bucketCount))
    let at = 0
    const events = region(memory, 4 * at, 2 * n)
    this.callEvent = region(memory, 4 * (at += 2 * n), n)
    this.returnEvent = region(memory, 4 * (at += n), n)
    for (let c = 0, r = 0, k = 0; k < 2 * n; k++) {
      if (c < n && callTime[byCall[c]!]! <= returnTime[byReturn[r]!]!) {
        const op = byCall[c++]!
        this.callEvent[op] = k
        events[k] = op * 2
      } else {
        const op = byReturn[r++]!
        this.returnEvent[op] = k
        events[k] = op * 2 + 1
      }
    }
    this.events = events
    this.head = 2 * n
    this.next = region(memory, 4 * (at += n), 2 * n + 1)
    this.prev = region(memory, 4 * (at += 2 * n + 1), 2 * n + 1)
    for (let k = 0; k < 2 * n; k++) {
      this.next[k] = k + 1 < 2 * n ? k + 1 : NONE
      this.prev[k] = k === 0 ? this.head : k - 1
    }
    this.next[this.head] = n > 0 ? 0 : NONE
    this.prev[this.head] = NONE
    this.cursor = this.next[this.head]!

    at += 2 * n + 1
    this.linearized = new Bitset(n, memory === undefined ? undefined : new Uint32Array(memory, 4 * at, words))
    this.key1 = sharedZobristKeys(n, 0)
    this.key2 = sharedZobristKeys(n, 1)
    this.stack = region(memory, 4 * (at += words), n + 1).fill(NONE)

    this.nodeParent = region(memory, 4 * (at += n + 1), capacity)
    this.nodeOp = region(memory, 4 * (at += capacity), capacity)
    this.nodeDepth = region(memory, 4 * (at += capacity), capacity)
    this.nodeHash1 = region(memory, 4 * (at += capacity), capacity)
    this.nodeHash2 = region(memory, 4 * (at += capacity), capacity)
    this.nodeStateHash = region(memory, 4 * (at += capacity), capacity)
    this.nodeChain = region(memory, 4 * (at += capacity), capacity)
    this.buckets = region(memory, 4 * (at += capacity), bucketCount).fill(NONE)
    const initial = this.pruning !== undefined ? this.pruning.initial : model.initial
    this.addNode(NONE, NONE, 0, 0, 0, 0, initial, false)
    this.stack[0] = 0
    if (this.pruning !== undefined) {
      for (let i = 0; i < n; i++) {
        if (this.rules.blind && this.pruning.postpone(i)) {
          this.postponed.push(i)
          this.lift(this.callEvent[i]!)
        }
      }
      if (this.next[this.head] !== NONE) this.cursor = this.enter(initial, 0)
    }
    if (this.next[this.head] === NONE) this.status = OK
  }

  /**
   * The pruned search's first move at a node just reached (at `depth`), with `pick` saying how it is
   * chosen: DEAD if `viable` says nothing can follow the state (rule b); else an available read that
   * is legal in the state (rule a); else a write after which some available read is legal (rule d);
   * else the head of the list, for the walk. It also notes which operation returns first (rule c).
   *
   * Rule (a), soundness: let r be an available read legal in state s after the set L, and σ any legal
   * completion of L. Moving r to the front of σ keeps it legal: a read changes no state, so every
   * other operation sees the state it saw before and r sees s; and it keeps real time, since r is
   * available (everything that returned before r was called is in L) and moving an operation earlier
   * can only break "x before r" constraints. So if the node (L + r, s) has no completion, (L, s) has
   * none either: r is the only child tried, and when it fails (or was already explored, a cache hit)
   * its parent fails at once (FORCED). This holds for never-returned reads too (legal anywhere).
   *
   * Rule (d) only changes the order in which children are tried, never which: the write tried first
   * is tried again in list order later, and then hits the cache. It is a guess that the write making
   * the next read legal is the one the history took.
   */
  private enter(state: S, depth: number): number {
    const pruning = this.pruning!
    const { events, next, head, outputs } = this
    const { step } = pruning
    this.pick = NORMAL
    let first = next[head]!
    while (first !== NONE && (events[first]! & 1) === 0) first = next[first]!
    this.firstReturn[depth] = first === NONE ? NONE : events[first]! >>> 1
    const { rules, lookahead } = this
    if (rules.dead ? !pruning.viable(state, this.remaining(), this.isLinearized) : lookahead !== undefined && !lookahead(state, this.remaining())) {
      return DEAD
    }
    const reads = this.scratch
    let nReads = 0
    for (let e = next[head]!; e !== first; e = next[e]!) {
      const op = events[e]! >>> 1
      if (!pruning.isRead(op)) continue
      if (rules.reads && step(state, op)[0]) {
        this.pick = FORCED
        return e
      }
      if (outputs[op] !== undefined) reads[nReads++] = op
    }
    if (rules.order && nReads > 0) {
      for (let e = next[head]!; e !== first; e = next[e]!) {
        const op = events[e]! >>> 1
        if (pruning.isRead(op) || pruning.blind(op)) continue
        const [legal, after] = step(state, op)
        if (!legal) continue
        for (let k = 0; k < nReads; k++) {
          if (step(after, reads[k]!)[0]) {
            this.pick = FIRST
            return e
          }
        }
      }
    }
    return next[head]!
  }

  /**
   * Rule (c): the call event of the first available blind write other than `put`, or NONE. A blind
   * write (one whose effect no read can show: after it, no read that returned is legal until a write
   * that overwrites the state) is tried only where some legal order has it:
   *
   * - Take a legal completion σ. Each blind write b in it is followed, before any read that returned,
   *   by an overwriting write p (else that read would show b). Moving b later, up to just before p,
   *   keeps σ legal (only writes and never-returned reads lie between, all legal in any state, and p
   *   makes the state the same again), unless real time stops it first at an operation z called after
   *   b returned; then b's return is the first of all that remain when b is placed ("its deadline").
   * - Moving a blind write that is available where p is placed to just before p (earlier) also keeps
   *   σ legal: real time allows it (it is available), p hides it, and where it was, nothing read it.
   * So some legal completion has every blind write either at its deadline or in the block just before
   * an overwriting write p, and that block holds every blind write available there (taken repeatedly,
   * as each may make another available). The search therefore tries a blind write on its own only at
   * its deadline, and tries each overwriting write p as "all available blind writes, then p" (the
   * ABSORB chain). The chain's inner nodes stand for a restricted search (only that chain below them),
   * so they are not put in the cache, where a hit would mean "fully explored"; p's node is.
   */
  private absorbable(put: number): number {
    const pruning = this.pruning!
    const { events, next, head } = this
    for (let e = next[head]!; e !== NONE; e = next[e]!) {
      const ev = events[e]!
      if ((ev & 1) === 1) return NONE
      if (pruning.blind(ev >>> 1) && ev >>> 1 !== put) return e
    }
    return NONE
  }

  /** Searches for at most `budget` steps; returns the steps taken. */
  run(budget: number): number {
    if (this.status !== RUNNING) return 0
    return this.pruning === undefined ? this.runPlain(budget) : this.runPruned(budget)
  }

  // The plain search: Porcupine's walk (see the module doc), with the model's lookahead if it has one.
  // Its backtracking step repeats `runPruned`'s on purpose: the loop keeps its registers (depth,
  // hashes, state) in locals and pays none of the pruned search's per-step checks, which is what
  // brought the main table of `npm run bench -- check` back to its speed before pruning. The two
  // copies must stay in step (test/check/pruning.test.ts runs both against brute force).
  private runPlain(budget: number): number {
    const { events, next, head, inputs, outputs, modelStep, hashState, linearized, key1, key2, stack, states } = this
    const { lookahead } = this
    let e = this.cursor
    let depth = this.depth
    let hash1 = this.hash1
    let hash2 = this.hash2
    let state = states[stack[depth]!] as S
    let used = 0
    while (next[head] !== NONE) {
      if (used >= budget) break
      used++
      const ev = e === DEAD ? 1 : events[e]!
      const op = ev >>> 1
      if ((ev & 1) === 0) {
        const [legal, nextState] = modelStep(state, inputs[op]!, outputs[op])
        if (legal) {
          const h1 = hash1 ^ key1[op]!
          const h2 = hash2 ^ key2[op]!
          const sh = hashState(nextState) | 0
          linearized.set(op)
          if (!this.seen(h1, h2, sh, depth + 1, nextState)) {
            const node = this.addNode(stack[depth]!, op, depth + 1, h1, h2, sh, nextState, true)
            stack[++depth] = node
            // The deepest node, for the report, is counted before the lookahead prunes it: its state is
            // where the history visibly goes wrong (a stale read, rather than the write before it).
            if (depth > this.nodeDepth[this.bestNode]!) this.bestNode = node
            state = nextState
            hash1 = h1
            hash2 = h2
            this.lift(e)
            e = lookahead !== undefined && next[head] !== NONE && !lookahead(state, this.remaining())
              ? DEAD
              : next[head]!
            continue
          }
          linearized.clear(op)
        }
        e = next[e]!
      } else {
        // The operation returning here is not linearized yet, and everything before it has been tried
        // (or the state is a dead end).
        if (depth === 0) {
          this.status = ILLEGAL
          break
        }
        const node = stack[depth]!
        stack[depth--] = NONE
        const undone = this.nodeOp[node]!
        linearized.clear(undone)
        hash1 ^= key1[undone]!
        hash2 ^= key2[undone]!
        state = states[stack[depth]!] as S
        const ce = this.callEvent[undone]!
        this.unlift(ce)
        e = next[ce]!
      }
    }
    if (this.status === RUNNING && next[head] === NONE) this.status = OK
    this.cursor = e
    this.depth = depth
    this.hash1 = hash1
    this.hash2 = hash2
    this.steps += used
    return used
  }

  // The pruned search: the walk with the rules' choices (`enter`, `absorbable`, `afterFailure`).
  private runPruned(budget: number): number {
    const { events, next, head, hashState, linearized, key1, key2, stack, states, mode } = this
    const pruning = this.pruning!
    const { step } = pruning
    const { target, resume, firstReturn } = this
    let pick = this.pick
    let e = this.cursor
    let depth = this.depth
    let hash1 = this.hash1
    let hash2 = this.hash2
    let state = states[stack[depth]!] as S
    let used = 0
    while (next[head] !== NONE) {
      if (used >= budget) break
      used++
      const ev = e === DEAD ? 1 : events[e]!
      let op = ev >>> 1
      if ((ev & 1) === 0) {
        let chosen = pick
        pick = NORMAL
        let chainFor = NONE
        if (this.rules.blind && (chosen === NORMAL || chosen === FIRST)) {
          // Rule (c): a blind write alone only at its deadline; an overwriting write after the blind
          // writes available now.
          if (pruning.blind(op) && firstReturn[depth] !== op) {
            e = chosen === FIRST ? next[head]! : next[e]!
            continue
          }
          if (pruning.overwrites(op)) {
            const b = this.absorbable(op)
            if (b !== NONE) {
              chainFor = op
              resume[depth] = chosen === FIRST ? NONE : e
              op = events[b]! >>> 1
              e = b
              chosen = ABSORB_START
            }
          }
        }
        const [legal, nextState] = step(state, op)
        if (legal) {
          const h1 = hash1 ^ key1[op]!
          const h2 = hash2 ^ key2[op]!
          const sh = hashState(nextState) | 0
          linearized.set(op)
          const inChain = chosen === ABSORB_START || chosen === ABSORB
          if (inChain || !this.seen(h1, h2, sh, depth + 1, nextState)) {
            const node = this.addNode(stack[depth]!, op, depth + 1, h1, h2, sh, nextState, !inChain)
            mode[depth] = chosen
            if (chosen === ABSORB_START) target[depth + 1] = chainFor
            else if (chosen === ABSORB) target[depth + 1] = target[depth]!
            stack[++depth] = node
            // The deepest node, for the report, is counted before the lookahead prunes it: its state is
            // where the history visibly goes wrong (a stale read, rather than the write before it).
            if (depth > this.nodeDepth[this.bestNode]!) this.bestNode = node
            state = nextState
            hash1 = h1
            hash2 = h2
            this.lift(e)
            if (next[head] === NONE) {
              e = NONE
            } else if (inChain) {
              // Next in the chain: another blind write, or the overwriting write itself.
              const put = target[depth]!
              const b = this.absorbable(put)
              e = b !== NONE ? b : this.callEvent[put]!
              pick = b !== NONE ? ABSORB : CHAIN_END
            } else {
              e = this.enter(state, depth)
              pick = this.pick
            }
            continue
          }
          linearized.clear(op)
        }
        e = chosen === NORMAL ? next[e]! : this.afterFailure(chosen, depth)
      } else {
        // The operation returning here is not linearized yet, and everything before it has been tried
        // (or the state is a dead end).
        if (depth === 0) {
          this.status = ILLEGAL
          break
        }
        const node = stack[depth]!
        stack[depth--] = NONE
        const undone = this.nodeOp[node]!
        linearized.clear(undone)
        hash1 ^= key1[undone]!
        hash2 ^= key2[undone]!
        state = states[stack[depth]!] as S
        const ce = this.callEvent[undone]!
        this.unlift(ce)
        const chosen = mode[depth]!
        pick = NORMAL
        e = chosen === NORMAL ? next[ce]! : this.afterFailure(chosen, depth)
      }
    }
    if (this.status === RUNNING && next[head] === NONE) this.status = OK
    this.pick = pick
    this.cursor = e
    this.depth = depth
    this.hash1 = hash1
    this.hash2 = hash2
    this.steps += used
    return used
  }

  // Where the walk at `depth` goes on when a child chosen other than by the walk (`chosen`) failed:
  // back to the head after rule (d)'s first try, on after the overwriting write whose rule-(c) chain
  // it was, and up (DEAD: the parent fails) for a forced read or inside a chain.
  private afterFailure(chosen: number, depth: number): number {
    const { next, head, resume } = this
    if (chosen === FIRST) return next[head]!
    if (chosen === ABSORB_START) return resume[depth] === NONE ? next[head]! : next[resume[depth]!]!
    return DEAD
  }

  /** Whether this search uses the model's pruning rules. */
  get pruned(): boolean {
    return this.pruning !== undefined
  }

  /** Search nodes, which are also the cache entries. */
  get nodes(): number {
    return this.nodeCount
  }

  /** Local ids, in order, of the longest linearizable prefix found (all operations when Ok). */
  longest(): ReadonlyArray<number> {
    const node = this.status === OK ? this.stack[this.depth]! : this.bestNode
    const path = new Array<number>(this.nodeDepth[node]!)
    for (let x = node, i = path.length - 1; x > 0; x = this.nodeParent[x]!, i--) path[i] = this.nodeOp[x]!
    return this.status === OK && this.postponed.length > 0 ? path.concat(this.postponed) : path
  }

  /** The state after `longest()`. */
  longestState(): S {
    return this.states[this.status === OK ? this.stack[this.depth]! : this.bestNode] as S
  }

  /**
   * Where an illegal partition fails: the operations that could come after the longest prefix. Each is
   * illegal there, or legal but a dead end: a legal one would have reached depth + 1, as a new node or
   * as a cache hit on one, and the longest prefix is the deepest node; only a node the model's
   * lookahead abandoned has children never tried, and those lead nowhere by the lookahead's promise.
   * Called once the search is over, when the event list is whole again.
   */
  frontier(): Frontier<S> {
    const path = this.longest()
    const state = this.longestState()
    // Rebuild the list as it was at the deepest node, look, and put it back (lifts nest like a stack).
    // Never-returned operations the pruned search put last (rule c) could come next too: they are shown.
    for (let i = this.postponed.length - 1; i >= 0; i--) this.unlift(this.callEvent[this.postponed[i]!]!)
    for (const op of path) this.lift(this.callEvent[op]!)
    const candidates: Array<number> = []
    let blocking = NONE
    for (let e = this.next[this.head]!; e !== NONE; e = this.next[e]!) {
      const ev = this.events[e]!
      if ((ev & 1) === 1) {
        blocking = ev >>> 1
        break
      }
      candidates.push(ev >>> 1)
    }
    const attempts: Array<number> = []
    const deadEnds: Array<number> = []
    for (const op of candidates) {
      const legal = this.pruning !== undefined
        ? this.pruning.step(state, op)[0]
        : this.modelStep(state, this.inputs[op]!, this.outputs[op])[0]
      ;(legal ? deadEnds : attempts).push(op)
    }
    for (let i = path.length - 1; i >= 0; i--) this.unlift(this.callEvent[path[i]!]!)
    for (const op of this.postponed) this.lift(this.callEvent[op]!)
    return { state, attempts, deadEnds, blocking }
  }

  // What remains, for the model's lookahead and pruning rules; made on first use (a partition that
  // never gets there, say of one operation, does not pay for it).
  private remaining(): Remaining<I, O> {
    return this.remainingView ??= {
      forEach: (visit) => {
        const { events, inputs, next, outputs } = this
        for (let e = next[this.head]!; e !== NONE; e = next[e]!) {
          const ev = events[e]!
          if (!visit((ev & 1) === 0 ? "call" : "return", inputs[ev >>> 1]!, outputs[ev >>> 1], ev >>> 1)) return
        }
      }
    }
  }

  private seen(h1: number, h2: number, sh: number, depth: number, state: S): boolean {
    const { nodeHash1, nodeHash2, nodeStateHash, nodeDepth, nodeChain } = this
    for (let x = this.buckets[bucketOf(h1, sh, this.buckets.length - 1)]!; x !== NONE; x = nodeChain[x]!) {
      if (
        nodeHash1[x] === h1 && nodeHash2[x] === h2 && nodeStateHash[x] === sh && nodeDepth[x] === depth &&
        this.sameSet(x) && this.equals(this.states[x] as S, state)
      ) return true
    }
    return false
  }

  // Node x has as many operations as the current set; it is the same set iff every operation on its
  // path is in the current bitset. The walk stops where x's path joins the current one.
  private sameSet(x: number): boolean {
    const { stack, nodeDepth, nodeOp, nodeParent, linearized } = this
    while (stack[nodeDepth[x]!] !== x) {
      if (!linearized.has(nodeOp[x]!)) return false
      x = nodeParent[x]!
    }
    return true
  }

  private addNode(
    parent: number,
    op: number,
    depth: number,
    h1: number,
    h2: number,
    sh: number,
    state: S,
    index: boolean
  ): number {
    if (this.nodeCount === this.nodeParent.length) this.grow()
    // Keep the load factor at most 1; rehash before the new node exists so it is linked once.
    if (index && this.nodeCount >= this.buckets.length) this.rehash(this.buckets.length * 2)
    const node = this.nodeCount++
    this.nodeParent[node] = parent
    this.nodeOp[node] = op
    this.nodeDepth[node] = depth
    this.nodeHash1[node] = h1
    this.nodeHash2[node] = h2
    this.nodeStateHash[node] = sh
    this.states.push(state)
    if (index) {
      const b = bucketOf(h1, sh, this.buckets.length - 1)
      this.nodeChain[node] = this.buckets[b]!
      this.buckets[b] = node
    } else {
      this.nodeChain[node] = UNCACHED
    }
    return node
  }

  private grow(): void {
    const capacity = this.nodeParent.length * 2
    const grow = (a: Int32Array): Int32Array => {
      const b = new Int32Array(capacity)
      b.set(a)
      return b
    }
    this.nodeParent = grow(this.nodeParent)
    this.nodeOp = grow(this.nodeOp)
    this.nodeDepth = grow(this.nodeDepth)
    this.nodeHash1 = grow(this.nodeHash1)
    this.nodeHash2 = grow(this.nodeHash2)
    this.nodeStateHash = grow(this.nodeStateHash)
    this.nodeChain = grow(this.nodeChain)
  }

  private rehash(size: number): void {
    const buckets = new Int32Array(size).fill(NONE)
    for (let x = 1; x < this.nodeCount; x++) {
      if (this.nodeChain[x] === UNCACHED) continue
      const b = bucketOf(this.nodeHash1[x]!, this.nodeStateHash[x]!, size - 1)
      this.nodeChain[x] = buckets[b]!
      buckets[b] = x
    }
    this.buckets = buckets
  }

  // Removes a call event and its return event from the list (the call always precedes its return).
  private lift(call: number): void {
    const { next, prev } = this
    const ret = this.returnEventOf(call)
    next[prev[call]!] = next[call]!
    prev[next[call]!] = prev[call]!
    next[prev[ret]!] = next[ret]!
    if (next[ret] !== NONE) prev[next[ret]!] = prev[ret]!
  }

  // Exactly undoes `lift(call)`; lifts and unlifts are nested (a stack), so the neighbours are intact.
  private unlift(call: number): void {
    const { next, prev } = this
    const ret = this.returnEventOf(call)
    next[prev[ret]!] = ret
    if (next[ret] !== NONE) prev[next[ret]!] = ret
    next[prev[call]!] = call
    prev[next[call]!] = call
  }

  private returnEventOf(call: number): number {
    return this.returnEvent[this.events[call]! >>> 1]!
  }
}

const bucketOf = (h1: number, sh: number, mask: number): number => (h1 ^ Math.imul(sh, 0x9e3779b1)) & mask

const nextPowerOfTwo = (n: number): number => {
  let p = 16
  while (p < n) p *= 2
  return p
}

// `length` ints of `memory` from `byteOffset` on, or new ones without `memory`.
const region = (memory: ArrayBuffer | undefined, byteOffset: number, length: number): Int32Array =>
  memory === undefined ? new Int32Array(length) : new Int32Array(memory, byteOffset, length)

const identity = (n: number): Array<number> => {
  const a: Array<number> = []
  for (let i = 0; i < n; i++) a.push(i)
  return a
}

// Indices 0..n-1 sorted by `time`, ties in index order. Return times of a history recorded in call
// order are nearly sorted (each operation overlaps a few others), so an insertion sort is linear
// there; it gives up for the general sort once it has moved more than a few elements per index.
// Infinite times (never returned) go last, in index order, without being moved one by one.
const sortedBy = (time: ReadonlyArray<number>): Array<number> => {
  const n = time.length
  const order: Array<number> = []
  let pending: Array<number> | undefined
  let moves = 0
  for (let x = 0; x < n; x++) {
    const t = time[x]!
    if (t === Number.POSITIVE_INFINITY) {
      ;(pending ??= []).push(x)
      continue
    }
    let j = order.length - 1
    order.push(x)
    while (j >= 0 && time[order[j]!]! > t) {
      order[j + 1] = order[j]!
      j--
    }
    order[j + 1] = x
    moves += order.length - 2 - j
    if (moves > 8 * n) return identity(n).sort((a, b) => time[a]! - time[b]! || a - b)
  }
  if (pending !== undefined) for (const x of pending) order.push(x)
  return order
}
