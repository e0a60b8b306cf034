/**
 * `npx tsx scripts/check-status-page.ts [--out DIR]`: starts three `concord kv serve` nodes (a fresh
 * bundle of the CLI, loopback, a temp directory), opens a follower's status page (`GET /`) in headless
 * Chromium (Debian's `chromium` package; CHROMIUM=<path> to use another), and checks in the live page,
 * through the DevTools protocol over a pipe (`--remote-debugging-pipe`: no WebSocket client needed):
 *
 * - it renders three members, exactly one of them highlighted as leader, the real leader;
 * - the chart draws once writes flow;
 * - after the leader is killed (SIGKILL), the same page, without a reload, shows a new leader, the old
 *   one unreachable, and the change in its list of leader changes.
 *
 * Screenshots before and after go to DIR (default: a new temp directory, printed). Not part of `npm test` (CI has
 * no browser). Exit 0 when every check passes, 1 when one fails, 2 when Chromium is missing.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Readable, Writable } from "node:stream"
import { freePort } from "../test/support/ports.js"

const root = join(import.meta.dirname, "..")
const outArg = process.argv.indexOf("--out")
const work = mkdtempSync(join(tmpdir(), "concord-status-page-"))
const out = outArg > 0 ? process.argv[outArg + 1]! : mkdtempSync(join(tmpdir(), "concord-status-page-shots-"))
mkdirSync(out, { recursive: true })
const children = new Set<ChildProcess>()
let failures = 0

const check = (ok: boolean, what: string) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`)
  if (!ok) failures++
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const until = async <A>(what: string, f: () => Promise<A | undefined>, ms = 20_000): Promise<A | undefined> => {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    const a = await f().catch(() => undefined)
    if (a !== undefined) return a
    await sleep(200)
  }
  console.log(`     (timed out waiting for ${what})`)
  return undefined
}

/** A DevTools-protocol client over Chromium's pipe: NUL-separated JSON on fds 3 (to it) and 4 (from it). */
const devtools = (child: ChildProcess) => {
  const toChrome = child.stdio[3] as Writable
  const fromChrome = child.stdio[4] as Readable
  let nextId = 1
  const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>()
  let buffer = ""
  fromChrome.setEncoding("utf8").on("data", (chunk: string) => {
    buffer += chunk
    let end: number
    while ((end = buffer.indexOf("\0")) >= 0) {
      const message = JSON.parse(buffer.slice(0, end))
      buffer = buffer.slice(end + 1)
      const p = pending.get(message.id)
      if (p === undefined) continue
      pending.delete(message.id)
      if (message.error !== undefined) p.reject(new Error(`${message.error.message}`))
      else p.resolve(message.result)
    }
  })
  return (method: string, params: object = {}, sessionId?: string): Promise<any> =>
    new Promise((resolve, reject) => {
      const id = nextId++
      pending.set(id, { resolve, reject })
      toChrome.write(JSON.stringify({ id, method, params, ...(sessionId === undefined ? {} : { sessionId }) }) + "\0")
      setTimeout(() => pending.delete(id) && reject(new Error(`${method}: no answer in 15 s`)), 15_000)
    })
}

/** What the page shows, read from its DOM. */
const PAGE_STATE = `JSON.stringify({
  updates: Number(document.body.getAttribute("data-updates")),
  rows: [...document.querySelectorAll("tr.member")].map((r) => ({ id: r.dataset.id, cls: r.className, role: r.dataset.role })),
  summary: document.getElementById("summary").textContent,
  events: document.getElementById("events").textContent,
  polylines: document.querySelectorAll("#chart polyline").length,
  error: document.getElementById("error").textContent
})`

interface PageState {
  readonly updates: number
  readonly rows: ReadonlyArray<{ readonly id: string; readonly cls: string; readonly role: string }>
  readonly summary: string
  readonly events: string
  readonly polylines: number
  readonly error: string
}

const main = async () => {
  const chromium = process.env["CHROMIUM"] ?? "/usr/bin/chromium"
  if (!existsSync(chromium)) {
    console.error(`${chromium} not found: apt-get install -y chromium, or set CHROMIUM=<path>`)
    process.exit(2)
  }
  const bundle = join(work, "concord.mjs")
  execFileSync(process.execPath, [join(root, "scripts/bundle-cli.mjs"), bundle], { cwd: root })

  // Three nodes.
  const ids = ["n1", "n2", "n3"]
  const ports = await Promise.all(ids.map(() => freePort()))
  const httpPorts = await Promise.all(ids.map(() => freePort()))
  const peers = ids.map((id, i) => `${id}=127.0.0.1:${ports[i]}`).join(",")
  const nodes = new Map<string, ChildProcess>()
  for (const [i, id] of ids.entries()) {
    const child = spawn(process.execPath, [
      bundle, "kv", "serve", "--id", id, "--peers", peers, "--data", join(work, id), "--http-port", String(httpPorts[i])
    ], { stdio: ["ignore", "ignore", "ignore"] })
    children.add(child)
    nodes.set(id, child)
  }
  const httpOf = (id: string) => httpPorts[ids.indexOf(id)]!
  const statusOf = async (id: string) => (await (await fetch(`http://127.0.0.1:${httpOf(id)}/v1/status`)).json()) as { role: string }
  const leaderNow = (among: ReadonlyArray<string>) =>
    until("a leader", async () => {
      for (const id of among) if ((await statusOf(id).catch(() => undefined))?.role === "Leader") return id
      return undefined
    })
  const leader = await leaderNow(ids)
  if (leader === undefined) throw new Error("no leader elected")
  const viewer = ids.find((id) => id !== leader)!
  console.log(`cluster up: leader ${leader}; opening ${viewer}'s page`)

  // Writes in the background, so the chart has something to draw.
  let writing = true
  const writer = (async () => {
    for (let i = 0; writing; i++) {
      await fetch(`http://127.0.0.1:${httpOf(viewer)}/v1/kv/k${i % 50}`, { method: "PUT", body: `v${i}` }).catch(() => sleep(100))
    }
  })()

  const browser = spawn(chromium, [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--hide-scrollbars", `--user-data-dir=${join(work, "profile")}`,
    "--window-size=1200,1000", "--remote-debugging-pipe", "about:blank"
  ], { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"] })
  children.add(browser)
  const send = devtools(browser)
  const { targetId } = await send("Target.createTarget", { url: `http://127.0.0.1:${httpOf(viewer)}/` })
  const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true })
  const state = async (): Promise<PageState> =>
    JSON.parse((await send("Runtime.evaluate", { expression: PAGE_STATE, returnByValue: true }, sessionId)).result.value)
  const screenshot = async (name: string) => {
    const { data } = await send("Page.captureScreenshot", { format: "png" }, sessionId)
    writeFileSync(join(out, name), Buffer.from(data, "base64"))
    console.log(`     screenshot: ${join(out, name)}`)
  }

  const before = await until("three members and one leader on the page", async () => {
    const s = await state()
    return s.rows.length === 3 && s.rows.filter((r) => r.cls.includes("leader")).length === 1 && s.polylines > 0 ? s : undefined
  })
  check(before !== undefined, "the page renders three members with exactly one highlighted leader, and the chart")
  if (before !== undefined) {
    const highlighted = before.rows.find((r) => r.cls.includes("leader"))!
    check(highlighted.id === leader && highlighted.role === "Leader", `the highlighted member is the leader (${highlighted.id})`)
    check(before.summary.includes(`leader ${leader}`) && before.summary.includes("3/3 members reachable"), `summary: ${before.summary}`)
    check(before.error === "", "no error banner")
  }
  await screenshot("status-before.png")

  nodes.get(leader)!.kill("SIGKILL")
  console.log(`killed the leader ${leader}`)
  const after = await until("a new leader on the same page", async () => {
    const s = await state()
    const lead = s.rows.filter((r) => r.cls.includes("leader"))
    const old = s.rows.find((r) => r.id === leader)
    return lead.length === 1 && lead[0]!.id !== leader && old?.cls.includes("down") && s.events.includes(`leader ${leader} → ${lead[0]!.id}`)
      ? s
      : undefined
  })
  check(after !== undefined, "without a reload, the page shows a new leader, the old one unreachable, and the change")
  if (after !== undefined && before !== undefined) {
    check(after.updates > before.updates, `the page kept polling (${before.updates} → ${after.updates} updates)`)
    check(after.summary.includes("2/3 members reachable"), `summary: ${after.summary}`)
  }
  await screenshot("status-after.png")
  writing = false
  await writer
}

main()
  .catch((e) => {
    console.error(e)
    failures++
  })
  .finally(async () => {
    await Promise.all([...children].map((c) =>
      c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => {
        c.once("exit", r)
        c.kill("SIGKILL")
      })
    ))
    try {
      rmSync(work, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 })
    } catch (e) {
      console.log(`     (could not remove ${work}: ${(e as Error).message})`)
    }
    console.log(failures === 0 ? "status page: all checks passed" : `status page: ${failures} check(s) failed`)
    process.exit(failures === 0 ? 0 : 1)
  })
