/**
 * Data-driven interaction tests of the pure Raft core, in the style of etcd-io/raft's testdata/*.txt:
 * each file under test/raft/testdata is a script of steps (ticks, proposals, reads, message delivery,
 * partitions, crashes) with the outputs they must produce (every Ready: what is persisted, sent,
 * replied, applied; every delivery), so a change in the protocol shows up as a readable diff.
 * `UPDATE=1 npx vitest run test/raft/interaction.test.ts` rewrites the expected outputs to the actual
 * ones (then read the diff).
 *
 * A script is blocks of `command args` / `----` / expected output, separated by blank lines; `#` starts
 * a comment line. Commands:
 *   nodes a b c [election=100] [heartbeat=10] [prevote=on] [checkquorum=on] [noop=on] [maxinflight=4]
 *   tick N MS          node N's clock advances MS ms and it gets a Tick
 *   advance MS         every running node's clock advances MS ms, and each gets a Tick (in name order)
 *   propose N TEXT     read N TOKEN      transfer N TO      compact N INDEX
 *   process [N...]     every named (default all) node with work: its Ready, persisted, then advanced
 *   deliver [N...]     every queued message to the named (default all) nodes; a cut link fails it
 *   stabilize          process and deliver until nothing is left (at most 50 rounds)
 *   cut N M / heal     drop / stop dropping messages between N and M
 *   crash N / restart N   drop N's state and queued messages / rebuild it from what it persisted
 *   status N           term, role, leader, vote, commit, applied, log range
 *   join ID            a new node ID that joins (no bootstrap peers: it waits for the leader's configuration)
 *   add N ID / promote N ID / remove N ID   a membership change proposed at N
 *   members N          the configuration N uses (index, committed, and whether the amnesia guard is on)
 *   wipe N             N loses its disk: it restarts empty as a joining node (amnesia)
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import type { RaftRequest, RaftResponse } from "../../src/raft/core/messages.js"
import * as Members from "../../src/raft/core/Membership.js"
import { type ChangeResult, type CoreConfig, RaftCore, type Ready } from "../../src/raft/core/RaftCore.js"
import { type LogEntry, type NodeId, type Snapshot } from "../../src/raft/core/types.js"
import { LogModel } from "../../src/storage/internal/LogModel.js"

const dir = join(import.meta.dirname, "testdata")
const text = new TextDecoder()

const entry = (e: LogEntry) =>
  `${e.index}@${e.term}${
    e.kind === 1 ? " noop" : e.kind === 2 ? ` config(${Members.describe(Members.decode(e.data))})` : ` ${JSON.stringify(text.decode(e.data))}`
  }`

const describeChange = (r: ChangeResult): string => {
  switch (r._tag) {
    case "Accepted":
      return `accepted at ${r.index}@${r.term}: ${Members.describe(r.membership)}`
    case "NotLeader":
      return `not the leader (leader ${r.leader ?? "-"})`
    case "ChangeInProgress":
      return `change in progress: ${r.detail}`
    case "UnknownNode":
      return `unknown node ${r.id}`
    case "AlreadyMember":
      return `${r.id} is already a ${r.role}`
    case "NotCaughtUp":
      return `${r.id} not caught up (match ${r.match}, commit ${r.commit})`
    case "LastVoter":
      return `${r.id} is the last voter`
  }
}

const describeRequest = (r: RaftRequest): string => {
  switch (r._tag) {
    case "RequestVote":
      return `RequestVote term=${r.term} candidate=${r.candidate} last=${r.lastIndex}@${r.lastTerm}${r.preVote ? " prevote" : ""}${r.transfer ? " transfer" : ""}`
    case "AppendEntries":
      return `AppendEntries term=${r.term} leader=${r.leader} prev=${r.prevIndex}@${r.prevTerm} commit=${r.commit} entries=[${r.entries.map(entry).join(", ")}]`
    case "Heartbeat":
      return `Heartbeat term=${r.term} leader=${r.leader} commit=${r.commit} round=${r.readRound}`
    case "InstallSnapshot":
      return `InstallSnapshot term=${r.term} leader=${r.leader} snapshot=${r.snapshot.index}@${r.snapshot.term}`
    case "TimeoutNow":
      return `TimeoutNow term=${r.term} leader=${r.leader}`
  }
}

const describeResponse = (request: RaftRequest, r: RaftResponse): string => {
  if (r === undefined) return `${request._tag}Reply`
  if ("granted" in r) return `RequestVoteReply term=${r.term} ${r.granted ? "granted" : "rejected"}`
  if ("success" in r) {
    return `AppendEntriesReply term=${r.term} ${r.success ? `ok match=${r.match}` : `reject conflict=${r.conflictIndex}@${r.conflictTerm}`}`
  }
  if ("readRound" in r) return `HeartbeatReply term=${r.term} round=${r.readRound}`
  return `InstallSnapshotReply term=${r.term} match=${r.match}`
}

interface Node {
  core: RaftCore | undefined
  now: number
  storage: LogModel
  /** Bootstrap peers: the script's `nodes`, or none for a node that joined. */
  peers: ReadonlyArray<NodeId>
}

type Message =
  | { readonly kind: "request"; readonly from: NodeId; readonly to: NodeId; readonly request: RaftRequest }
  | { readonly kind: "response"; readonly from: NodeId; readonly to: NodeId; readonly request: RaftRequest; readonly response: RaftResponse }

/** One script's world: nodes, their clocks and storage, and the messages in flight. */
const world = () => {
  let config: Omit<CoreConfig, "id"> | undefined
  const nodes = new Map<NodeId, Node>()
  let queue: Array<Message> = []
  const cut = new Set<string>()
  const tokens = new Map<string, { from: NodeId; request: RaftRequest }>()
  let nextToken = 1
  const linkCut = (a: NodeId, b: NodeId) => cut.has(`${a}|${b}`) || cut.has(`${b}|${a}`)

  const node = (id: string) => {
    const n = nodes.get(id)
    if (n === undefined) throw new Error(`no node ${id}`)
    return n
  }
  const core = (id: string) => {
    const c = node(id).core
    if (c === undefined) throw new Error(`node ${id} is crashed`)
    return c
  }
  const build = (id: NodeId, n: Node) => {
    n.core = new RaftCore({ ...config!, id, peers: n.peers }, n.storage.persisted(), n.now, [...nodes.keys()].indexOf(id) + 1)
  }

  const printReady = (id: NodeId, rd: Ready, out: Array<string>) => {
    out.push(`${id}: ready`)
    if (rd.snapshot !== undefined) out.push(`  persist snapshot ${rd.snapshot.snapshot.index}@${rd.snapshot.snapshot.term}${rd.snapshot.discardLog ? " (discarding the log)" : ""}`)
    if (rd.hardState !== undefined) {
      const hs = rd.hardState
      out.push(`  persist hardstate term=${hs.term} vote=${hs.vote ?? "-"} commit=${hs.commit}${hs.rejoin === undefined ? "" : ` rejoin=${hs.rejoin}`}`)
    }
    if (rd.entries.length > 0) out.push(`  persist entries ${rd.entries.map(entry).join(", ")}`)
    for (const m of rd.messages) out.push(`  send ${m.to} ${describeRequest(m.request)}${rd.sendBeforePersist ? " (while persisting)" : ""}`)
    for (const r of rd.replies) {
      const t = tokens.get(`${id}:${r.token}`)!
      out.push(`  reply ${t.from} ${describeResponse(t.request, r.response)}`)
    }
    if (rd.applySnapshot !== undefined) out.push(`  apply snapshot ${rd.applySnapshot.index}@${rd.applySnapshot.term}`)
    if (rd.committed.length > 0) out.push(`  apply ${rd.committed.map(entry).join(", ")}`)
    for (const r of rd.reads) out.push(`  read ${r.token} at ${r.index}`)
    for (const r of rd.readFailures) out.push(`  read ${r.token} failed (leader ${r.leader ?? "-"})`)
  }

  /** Ready, persisted, advanced; its messages and replies join the queue. */
  const process = (id: NodeId, out: Array<string>) => {
    const n = node(id)
    const c = n.core
    if (c === undefined || !c.hasReady()) return false
    const rd = c.ready()
    printReady(id, rd, out)
    if (rd.snapshot !== undefined) n.storage.installSnapshot(rd.snapshot.snapshot as Snapshot, rd.snapshot.discardLog)
    n.storage.append(rd.entries, rd.hardState)
    for (const m of rd.messages) queue.push({ kind: "request", from: id, to: m.to, request: m.request })
    for (const r of rd.replies) {
      const t = tokens.get(`${id}:${r.token}`)!
      tokens.delete(`${id}:${r.token}`)
      queue.push({ kind: "response", from: id, to: t.from, request: t.request, response: r.response })
    }
    c.advance()
    return true
  }

  const deliver = (to: ReadonlyArray<NodeId> | undefined, out: Array<string>) => {
    const now = queue.filter((m) => to === undefined || to.includes(m.to))
    queue = queue.filter((m) => !now.includes(m))
    for (const m of now) {
      const target = nodes.get(m.to)
      const what = m.kind === "request" ? describeRequest(m.request) : describeResponse(m.request, m.response)
      if (linkCut(m.from, m.to) || target?.core === undefined) {
        out.push(`${m.to} <- ${m.from} ${what} (dropped)`)
        // Whoever sent the request learns that it failed (a lost reply looks the same to it).
        const [requester, peer] = m.kind === "request" ? [m.from, m.to] : [m.to, m.from]
        const r = nodes.get(requester)
        r?.core?.step({ _tag: "Failure", now: r.now, to: peer, request: m.request })
        continue
      }
      out.push(`${m.to} <- ${m.from} ${what}`)
      if (m.kind === "request") {
        const token = nextToken++
        tokens.set(`${m.to}:${token}`, { from: m.from, request: m.request })
        target.core.step({ _tag: "Request", now: target.now, from: m.from, request: m.request, token })
      } else {
        target.core.step({ _tag: "Response", now: target.now, from: m.from, request: m.request, response: m.response })
      }
    }
    return now.length > 0
  }

  const all = () => [...nodes.keys()]

  const run = (line: string): string => {
    const [cmd, ...args] = line.trim().split(/\s+/)
    const out: Array<string> = []
    const kv = Object.fromEntries(args.filter((a) => a.includes("=")).map((a) => a.split("=") as [string, string]))
    const ids = args.filter((a) => !a.includes("="))
    switch (cmd) {
      case "nodes": {
        const on = (k: string, d: boolean) => (kv[k] === undefined ? d : kv[k] === "on")
        config = {
          peers: ids,
          electionTimeoutMs: Number(kv.election ?? 100),
          heartbeatIntervalMs: Number(kv.heartbeat ?? 10),
          preVote: on("prevote", true),
          checkQuorum: on("checkquorum", true),
          leaderNoop: on("noop", true),
          maxAppendBytes: 1 << 20,
          maxInflight: Number(kv.maxinflight ?? 4),
          maxApplyEntries: 100
        }
        for (const id of ids) {
          const n: Node = { core: undefined, now: 0, storage: new LogModel(), peers: ids }
          nodes.set(id, n)
        }
        for (const id of ids) build(id, node(id))
        out.push("ok")
        break
      }
      case "tick": {
        const n = node(ids[0]!)
        n.now += Number(ids[1])
        core(ids[0]!).step({ _tag: "Tick", now: n.now })
        out.push(`${ids[0]}: ${core(ids[0]!).status().role} term=${core(ids[0]!).status().term}`)
        break
      }
      case "advance":
        for (const id of all()) {
          const n = node(id)
          n.now += Number(ids[0])
          if (n.core === undefined) continue
          n.core.step({ _tag: "Tick", now: n.now })
          out.push(`${id}: ${n.core.status().role} term=${n.core.status().term}`)
        }
        break
      case "propose": {
        const r = core(ids[0]!).propose(new TextEncoder().encode(args.slice(1).join(" ")))
        out.push(r._tag === "Accepted" ? `accepted at ${r.index}@${r.term}` : r._tag === "NotLeader" ? `not the leader (leader ${r.leader ?? "-"})` : `too large`)
        break
      }
      case "read":
        core(ids[0]!).step({ _tag: "ReadIndex", now: node(ids[0]!).now, token: Number(ids[1]) })
        out.push("ok")
        break
      case "transfer":
        core(ids[0]!).step({ _tag: "TransferLeader", now: node(ids[0]!).now, to: ids[1]! })
        out.push("ok")
        break
      case "compact":
        core(ids[0]!).step({ _tag: "Compact", index: Number(ids[1]), data: new TextEncoder().encode(`snap@${ids[1]}`) })
        out.push("ok")
        break
      case "process":
        for (const id of ids.length > 0 ? ids : all()) process(id, out)
        break
      case "deliver":
        deliver(ids.length > 0 ? ids : undefined, out)
        break
      case "stabilize":
        for (let round = 0; round < 50; round++) {
          let busy = false
          for (const id of all()) busy = process(id, out) || busy
          busy = deliver(undefined, out) || busy
          if (!busy) break
        }
        break
      case "cut":
        cut.add(`${ids[0]}|${ids[1]}`)
        out.push("ok")
        break
      case "heal":
        cut.clear()
        out.push("ok")
        break
      case "crash":
        node(ids[0]!).core = undefined
        queue = queue.filter((m) => m.from !== ids[0] && m.to !== ids[0])
        out.push("ok")
        break
      case "restart":
        build(ids[0]!, node(ids[0]!))
        out.push(`${ids[0]}: restarted at term ${core(ids[0]!).status().term}, log ${core(ids[0]!).status().firstIndex}..${core(ids[0]!).status().lastIndex}`)
        break
      case "status": {
        const s = core(ids[0]!).status()
        out.push(`${s.id}: ${s.role} term=${s.term} leader=${s.leader ?? "-"} vote=${s.vote ?? "-"} commit=${s.commit} applied=${s.applied} log=${s.firstIndex}..${s.lastIndex} snapshot=${s.snapshotIndex}`)
        break
      }
      case "join": {
        const n: Node = { core: undefined, now: nodes.size > 0 ? node(all()[0]!).now : 0, storage: new LogModel(), peers: [] }
        nodes.set(ids[0]!, n)
        build(ids[0]!, n)
        out.push("ok")
        break
      }
      case "wipe": {
        const n = node(ids[0]!)
        n.storage = new LogModel()
        n.peers = []
        queue = queue.filter((m) => m.from !== ids[0] && m.to !== ids[0])
        build(ids[0]!, n)
        out.push(`${ids[0]}: restarted empty`)
        break
      }
      case "add":
        out.push(describeChange(core(ids[0]!).proposeChange({ _tag: "AddLearner", id: ids[1]!, address: "" })))
        break
      case "promote":
        out.push(describeChange(core(ids[0]!).proposeChange({ _tag: "Promote", id: ids[1]! })))
        break
      case "remove":
        out.push(describeChange(core(ids[0]!).proposeChange({ _tag: "Remove", id: ids[1]! })))
        break
      case "members": {
        const m = core(ids[0]!).membership()
        out.push(
          `${ids[0]}: ${Members.describe(m.membership)} (index ${m.index}${m.committed ? ", committed" : ""}${
            m.rejoining ? ", rejoining: votes refused" : ""
          })`
        )
        break
      }
      default:
        throw new Error(`unknown command ${cmd}`)
    }
    return out.length === 0 ? "(nothing)" : out.join("\n")
  }
  return { run }
}

interface Block {
  readonly comments: ReadonlyArray<string>
  readonly command: string
  readonly expected: string
}

const parse = (content: string): Array<Block> => {
  const blocks: Array<Block> = []
  const lines = content.split("\n")
  let i = 0
  while (i < lines.length) {
    const comments: Array<string> = []
    while (i < lines.length && (lines[i]!.trim() === "" || lines[i]!.startsWith("#"))) {
      if (lines[i]!.startsWith("#")) comments.push(lines[i]!)
      i++
    }
    if (i >= lines.length) break
    const command = lines[i++]!
    if (lines[i] !== "----") throw new Error(`expected ---- after "${command}" (line ${i + 1})`)
    i++
    const out: Array<string> = []
    while (i < lines.length && lines[i]!.trim() !== "") out.push(lines[i++]!)
    blocks.push({ comments, command, expected: out.join("\n") })
  }
  return blocks
}

const files = readdirSync(dir).filter((f) => f.endsWith(".txt")).sort()

describe("RaftCore interactions (test/raft/testdata)", () => {
  it("has scripts", () => expect(files.length).toBeGreaterThan(3))
  for (const file of files) {
    it(file, () => {
      const path = join(dir, file)
      const blocks = parse(readFileSync(path, "utf8"))
      const w = world()
      const actual = blocks.map((b) => ({ ...b, actual: w.run(b.command) }))
      if (process.env.UPDATE === "1") {
        const rendered = actual.map((b) => [...b.comments, b.command, "----", b.actual].join("\n")).join("\n\n") + "\n"
        writeFileSync(path, rendered)
        return
      }
      for (const b of actual) expect(b.actual, `${file}: ${b.command}`).toBe(b.expected)
    })
  }
})
