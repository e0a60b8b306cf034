/**
 * A secure cluster as real processes on loopback: certificates from `concord certs create` (the
 * system's openssl), three `kv serve` nodes with mutual TLS and a client token, used end to end by
 * the CLI and over HTTPS; then a node with a certificate of another CA, a plain-TCP client, a missing
 * and a wrong token, each refused with its one-line reason while the cluster keeps serving. And the
 * same flags on a shard controller (`shard ctrl serve`), which shares the node code.
 */
import { spawnSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import * as https from "node:https"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { concord, deployment, freePort, type Server, serve, spawnServer, until, work } from "./support.js"

deployment()

const hasOpenssl = spawnSync("openssl", ["version"]).status === 0
if (!hasOpenssl) console.warn("Tls.test.ts: skipped: openssl is not installed (concord certs create needs it)")

let certs = ""
let tokenFile = ""
let wrongTokenFile = ""

/** An HTTPS request verified against our CA; `token`: sent as a Bearer token. */
const request = (port: number, method: string, path: string, o: { token?: string; body?: string; ca?: string } = {}) =>
  new Promise<{ status: number; json: any; headers: Record<string, unknown> }>((resolve, reject) => {
    const req = https.request({
      host: "127.0.0.1",
      port,
      method,
      path,
      ca: readFileSync(o.ca ?? join(certs, "ca.crt")),
      headers: o.token === undefined ? {} : { authorization: `Bearer ${o.token}` },
      timeout: 10_000,
      // A fresh connection each time: spawnSync blocks this process for seconds, and a pooled
      // connection the server closed meanwhile would be reused ("socket hang up").
      agent: false
    }, (res) => {
      let text = ""
      res.setEncoding("utf8").on("data", (d: string) => (text += d)).on("end", () =>
        resolve({ status: res.statusCode!, json: JSON.parse(text), headers: res.headers }))
    })
    req.on("error", reject)
    req.end(o.body)
  })

const tlsFlags = (id: string, dir = certs) => ["--tls-cert", join(dir, `${id}.crt`), "--tls-key", join(dir, `${id}.key`), "--tls-ca", join(dir, "ca.crt")]

describe.skipIf(!hasOpenssl)("a secure cluster", () => {
  beforeAll(() => {
    certs = join(work, "certs")
    const made = concord("certs", "create", "--nodes", "n1,n2,n3,c1", "--out", certs)
    expect(made.status, made.stderr).toBe(0)
    expect(made.stdout).toContain(`CA: ${join(certs, "ca.crt")}`)
    const other = concord("certs", "create", "--nodes", "n3", "--out", join(work, "other"))
    expect(other.status, other.stderr).toBe(0)
    // A directory that holds a CA is never overwritten.
    const again = concord("certs", "create", "--nodes", "n1", "--out", certs)
    expect(again.status).toBe(3)
    expect(again.stderr).toMatch(/already holds a CA/)
    tokenFile = join(work, "token")
    writeFileSync(tokenFile, "correct-horse-battery-staple\n")
    wrongTokenFile = join(work, "wrong-token")
    writeFileSync(wrongTokenFile, "guess\n")
  }, 60_000)

  it("works end to end over mutual TLS; refuses another CA's node, plain TCP, a missing or wrong token; keeps serving", async () => {
    const ports = await Promise.all([1, 2, 3, 4, 5, 6, 7].map(() => freePort()))
    const ids = ["n1", "n2", "n3"]
    const peers = ids.map((id, i) => `${id}=127.0.0.1:${ports[i]}`).join(",")
    const endpoints = ids.map((_, i) => `127.0.0.1:${ports[i]}`).join(",")
    const httpOf = (i: number) => ports[i + 3]!
    const servers: Array<Server> = []
    for (const [i, id] of ids.entries()) {
      servers.push(await serve(id, peers, join(work, "kv", id), httpOf(i), [...tlsFlags(id), "--auth-token-file", tokenFile]))
    }
    const client = ["--endpoints", endpoints, "--tls-ca", join(certs, "ca.crt"), "--auth-token-file", tokenFile, "--timeout", "20s"]
    const token = "correct-horse-battery-staple"

    // End to end: the CLI over TLS, HTTPS with the token, either way round.
    const put = concord("kv", "put", "x", "1", ...client)
    expect(put.stderr).toBe("")
    expect(put.stdout).toBe("OK\n")
    expect(concord("kv", "get", "x", ...client).stdout).toBe("1\n")
    expect(await request(httpOf(1), "GET", "/v1/kv/x", { token })).toMatchObject({ status: 200, json: { key: "x", value: "1" } })
    expect((await request(httpOf(2), "PUT", "/v1/kv/y", { token, body: "2" })).status).toBe(200)
    expect(concord("kv", "get", "y", ...client).stdout).toBe("2\n")
    const status = (await request(httpOf(0), "GET", "/v1/status", { token })).json
    const leader = status.leader as string
    const term = status.term as number

    // A node with a certificate of another CA (posing as n3, on a port of its own, trusting our CA) is
    // refused by every member, with one line each, before any of its frames (its elections) gets through.
    const impostorPeers = peers.replace(/n3=127\.0\.0\.1:\d+/, `n3=127.0.0.1:${ports[6]}`)
    const impostor = await spawnServer("impostor", [
      "kv", "serve", "--id", "n3", "--peers", impostorPeers, "--data", join(work, "kv", "impostor"), "--no-http",
      "--election-timeout", "150ms", "--heartbeat", "50ms",
      "--tls-cert", join(work, "other", "n3.crt"), "--tls-key", join(work, "other", "n3.key"), "--tls-ca", join(certs, "ca.crt")
    ])
    await until("the members to refuse the impostor", async () =>
      [servers[0]!, servers[1]!].every((s) => /refusing connection from 127\.0\.0\.1:\d+: certificate CN=n3 is not trusted/.test(s.stderr()))
        ? true
        : undefined)

    // A plain-TCP client is refused (the node says why; the client gets a hint).
    const plain = concord("kv", "get", "x", "--endpoints", endpoints, "--auth-token-file", tokenFile, "--timeout", "1s")
    expect(plain.status).toBe(1)
    expect(plain.stderr).toMatch(/no endpoint reachable .*\(a TLS cluster\? give --tls-ca\)\n$/)
    // (The children's stderr is read once this process runs again: spawnSync blocked it.)
    await until("the refusal of the plain client in the log", async () =>
      /refusing connection from 127\.0\.0\.1:\d+: TLS handshake failed: .*does not speak TLS/.test(servers[0]!.stderr()) ? true : undefined)

    // No token, a wrong token: the binary protocol's Unauthorized, HTTP's 401.
    const tlsOnly = ["--endpoints", endpoints, "--tls-ca", join(certs, "ca.crt"), "--timeout", "5s"]
    const noToken = concord("kv", "get", "x", ...tlsOnly)
    expect(noToken.status).toBe(1)
    expect(noToken.stderr).toMatch(/^concord kv get: 127\.0\.0\.1:\d+ refused this client: this server requires the client token/)
    const wrong = concord("kv", "put", "x", "evil", ...tlsOnly, "--auth-token-file", wrongTokenFile)
    expect(wrong.status).toBe(1)
    expect(wrong.stderr).toMatch(/refused this client: wrong client token \(--auth-token-file\)\n$/)
    expect(wrong.stderr).not.toContain("guess")
    const missing = await request(httpOf(0), "GET", "/v1/kv/x")
    expect(missing).toMatchObject({ status: 401, json: { error: { code: "unauthorized" } } })
    expect(missing.headers["www-authenticate"]).toBe("Bearer")
    // The path is judged as the routes read it: a dot segment does not get around the token.
    expect((await request(httpOf(0), "GET", "/./v1/kv/x")).status).toBe(401)
    expect((await request(httpOf(0), "GET", "/%2e/v1/status")).status).toBe(401)
    const bad = await request(httpOf(1), "PUT", "/v1/kv/x", { token: "guess", body: "evil" })
    expect(bad).toMatchObject({ status: 401, json: { error: { code: "unauthorized", message: "wrong token" } } })
    // A client verifying against another CA does not trust the nodes.
    await expect(request(httpOf(0), "GET", "/v1/kv/x", { token, ca: join(work, "other", "ca.crt") })).rejects.toThrow()

    // Nobody crashed, nothing was written by the refused, the leader and term never moved (the
    // impostor's elections never got through), and the cluster answers at once.
    for (const s of servers) expect(s.child.exitCode).toBeNull()
    const started = Date.now()
    expect(concord("kv", "get", "x", ...client).stdout).toBe("1\n")
    expect(Date.now() - started).toBeLessThan(5_000)
    for (const i of [0, 1, 2]) {
      expect((await request(httpOf(i), "GET", "/v1/status", { token })).json).toMatchObject({ leader, term })
    }
    for (const s of servers) expect(s.stderr()).not.toContain(token)
    impostor.child.kill("SIGKILL")
  }, 120_000)

  it("secures a shard controller with the same flags", async () => {
    const [port, httpPort] = await Promise.all([freePort(), freePort()])
    await spawnServer("c1", [
      "shard", "ctrl", "serve", "--id", "c1", "--peers", `c1=127.0.0.1:${port}`, "--data", join(work, "ctrl", "c1"),
      "--http-port", String(httpPort), ...tlsFlags("c1"), "--auth-token-file", tokenFile
    ])
    const ctrl = ["--ctrl", `c1=127.0.0.1:${port}`, "--tls-ca", join(certs, "ca.crt"), "--timeout", "20s"]
    const query = concord("shard", "query", ...ctrl, "--auth-token-file", tokenFile)
    expect(query.stderr).toBe("")
    expect(query.stdout).toMatch(/^config 0: 10 shards/)
    const refused = concord("shard", "query", ...ctrl)
    expect(refused.status).toBe(1)
    expect(refused.stderr).toMatch(/^concord shard query: unauthorized: c1 refused the request/)
    expect(await request(httpPort, "GET", "/v1/config")).toMatchObject({ status: 401 })
    expect((await request(httpPort, "GET", "/v1/config", { token: "correct-horse-battery-staple" })).json.num).toBe(0)
  }, 60_000)

  it("bad security flags are one-line errors naming the flag", async () => {
    const port = await freePort()
    const node = (...flags: ReadonlyArray<string>) =>
      concord("kv", "serve", "--id", "n1", "--peers", `n1=127.0.0.1:${port}`, "--data", join(work, "bad"), "--no-http", ...flags)
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, RegExp]> = [
      [["--tls-cert", join(certs, "n1.crt")], /^concord kv serve: --tls-cert, --tls-key and --tls-ca go together: give all three, or none\n$/],
      [["--tls-cert", join(certs, "n1.crt"), "--tls-key", join(certs, "n2.key"), "--tls-ca", join(certs, "ca.crt")],
        /^concord kv serve: TLS: the key does not match the certificate \(--tls-cert\/--tls-key\/--tls-ca\)\n$/],
      [["--tls-cert", join(certs, "nope.crt"), "--tls-key", join(certs, "n1.key"), "--tls-ca", join(certs, "ca.crt")],
        /^concord kv serve: --tls-cert .*nope\.crt: no such file\n$/],
      [["--tls-cert", join(certs, "n1.crt"), "--tls-key", join(certs, "n1.key"), "--tls-ca", tokenFile],
        /^concord kv serve: TLS: the CA is not a PEM certificate/],
      [["--auth-token-file", join(work, "empty")], /^concord kv serve: --auth-token-file .*empty is empty\n$/]
    ]
    writeFileSync(join(work, "empty"), "\n")
    for (const [flags, message] of cases) {
      const r = node(...flags)
      expect(r.status, r.stderr).toBe(3)
      expect(r.stderr).toMatch(message)
    }
    const client = concord("kv", "get", "x", "--tls-cert", join(certs, "client.crt"), "--tls-key", join(certs, "client.key"))
    expect(client.status).toBe(3)
    expect(client.stderr).toBe("concord kv get: --tls-cert needs --tls-ca (the CA that signed the servers' certificates)\n")
  }, 60_000)
})
