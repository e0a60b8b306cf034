/**
 * What a node does without a majority, and what it refuses on every path: with real processes on
 * loopback (see ./support.ts).
 *
 * - HTTP requests end with 503 `unavailable` by their deadline, and a request whose deadline passed
 *   or whose caller hung up is not retried any more: it does not take effect when a majority returns.
 * - The key/value limits hold on the binary path as on HTTP: the client refuses before sending, and
 *   the server refuses what a client that does not check sends anyway.
 */
import { Effect, Either, Layer } from "effect"
import { describe, expect, it } from "vitest"
import * as KvClient from "../../src/kv/KvClient.js"
import { KvWrite } from "../../src/kv/Messages.js"
import * as Tcp from "../../src/rpc/Tcp.js"
import { Transport } from "../../src/rpc/Transport.js"
import { cluster, concord, deployment, http, serve, until } from "./support.js"

deployment()

const kill = async (c: Awaited<ReturnType<typeof cluster>>, id: string) => {
  const s = c.servers.get(id)!
  s.child.kill("SIGKILL")
  await s.exited
  c.servers.delete(id)
}

describe("without a majority", () => {
  it("HTTP requests answer 503 by their deadline, and abandoned writes never take effect later", async () => {
    const c = await cluster("minority")
    const leader = await c.leader()
    expect((await http(c.httpOf[leader]!, "PUT", "/v1/kv/before", "1")).status).toBe(200)
    const survivor = c.ids.find((id) => id !== leader)!
    for (const id of c.ids.filter((id) => id !== survivor)) await kill(c, id)

    // Each verb ends with the documented error (the deadline is 5 s; a hang fails at 20 s).
    const bounded = (method: string, path: string, body?: string) =>
      fetch(`http://127.0.0.1:${c.httpOf[survivor]}${path}`, {
        method,
        signal: AbortSignal.timeout(20_000),
        ...(body === undefined ? {} : { body })
      }).then(async (r) => ({ status: r.status, json: (await r.json()) as any }))
    const answers = await Promise.all([
      bounded("PUT", "/v1/kv/timed-out", "late"),
      bounded("GET", "/v1/kv/before"),
      bounded("DELETE", "/v1/kv/before")
    ])
    for (const a of answers) {
      expect(a.status).toBe(503)
      expect(a.json.error.code).toBe("unavailable")
    }
    // A caller that hangs up before the deadline.
    await fetch(`http://127.0.0.1:${c.httpOf[survivor]}/v1/kv/hung-up`, {
      method: "PUT",
      body: "late",
      signal: AbortSignal.timeout(500)
    }).catch(() => undefined)

    // A majority again: neither abandoned write is retried into the log.
    const back = c.ids.find((id) => id !== survivor)!
    c.servers.set(back, await serve(back, c.peers, c.dataOf(back), c.httpOf[back]!))
    await until("a write with a majority again", async () =>
      (await http(c.httpOf[survivor]!, "PUT", "/v1/kv/after", "1")).status === 200 ? true : undefined, 30_000)
    await new Promise((r) => setTimeout(r, 1000))
    for (const key of ["timed-out", "hung-up"]) {
      expect((await http(c.httpOf[survivor]!, "GET", `/v1/kv/${key}`)).json.value, key).toBe("")
    }
    expect((await http(c.httpOf[back]!, "GET", "/v1/kv/before")).json.value).toBe("1")
    for (const s of c.servers.values()) s.child.kill("SIGKILL")
  }, 120_000)
})

describe("the same limits on every path", () => {
  it("the binary client refuses before sending, the server refuses what arrives anyway, HTTP agrees", async () => {
    const c = await cluster("limits")
    const tcp = Tcp.layer({ self: "limits-client", peers: c.peerMap })
    const run = <A, E>(e: Effect.Effect<A, E, KvClient.KvClient | Transport>) =>
      Effect.runPromise(e.pipe(Effect.provide(Layer.merge(KvClient.layer({ servers: c.ids }).pipe(Layer.provide(tcp)), tcp))))

    const refused = await run(Effect.gen(function*() {
      const kv = yield* KvClient.KvClient
      return yield* Effect.forEach([
        kv.put("k".repeat(4096), "v"),
        kv.put("big", "v".repeat(3 * 1024 * 1024)),
        kv.put("", "v"),
        kv.get(""),
        kv.append("big", "v".repeat(40 * 1024 * 1024))
      ], (op) => Effect.flip(op))
    }))
    expect(refused.map((e) => e._tag === "InvalidRequest" ? e.code : e._tag)).toEqual([
      "key_too_large",
      "value_too_large",
      "bad_request",
      "bad_request",
      "value_too_large"
    ])

    // A client that does not check: the server refuses, whichever node it reaches.
    const raw = await run(Effect.gen(function*() {
      const transport = yield* Transport
      return yield* Effect.forEach(c.ids, (id) =>
        Effect.either(transport.call(id, new KvWrite({ op: "put", key: "big", value: "v".repeat(3 * 1024 * 1024), clientId: 7, seq: 1 }))))
    }))
    for (const r of raw) {
      expect(Either.isLeft(r) && r.left._tag === "InvalidRequest" && r.left.code).toBe("value_too_large")
    }
    // Nothing of it reached the log, and the cluster serves on.
    expect((await http(c.httpOf.n1!, "GET", "/v1/kv/big")).json.value).toBe("")
    expect((await http(c.httpOf.n2!, "PUT", "/v1/kv/big", "small")).status).toBe(200)

    // The CLI says so in one line, with the bad-input exit code.
    const cli = concord("kv", "put", "", "v", "--endpoints", c.peerMap.n1!)
    expect(cli.status).toBe(3)
    expect(cli.stderr).toContain("empty key")
    for (const s of c.servers.values()) s.child.kill("SIGKILL")
  }, 120_000)
})
