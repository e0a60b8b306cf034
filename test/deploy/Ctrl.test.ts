/**
 * The shard controller as real processes (`concord shard ctrl serve` on loopback, file storage): the
 * HTTP API with exactly-once headers and every error, the admin verbs, a restarted replica keeping its
 * configs, another cluster's data directory refused, and bad input leaving the replicas serving.
 */
import { describe, expect, it } from "vitest"
import { concord, deployment, freePort, http, type Server, spawnServer, until, work } from "./support.js"
import { join } from "node:path"

deployment()

const controllers = async (name: string) => {
  const ports = await Promise.all([1, 2, 3].map(() => freePort()))
  const httpPorts = await Promise.all([1, 2, 3].map(() => freePort()))
  const ids = ["c1", "c2", "c3"]
  const peers = ids.map((id, i) => `${id}=127.0.0.1:${ports[i]}`).join(",")
  const dataOf = (id: string) => join(work, name, id)
  const start = (i: number) =>
    spawnServer(ids[i]!, ["shard", "ctrl", "serve", "--id", ids[i]!, "--peers", peers, "--data", dataOf(ids[i]!), "--http-port", String(httpPorts[i])])
  const servers: Array<Server> = []
  for (let i = 0; i < 3; i++) servers.push(await start(i))
  return { ids, peers, httpPorts, servers, start, dataOf }
}

describe("shard ctrl serve", () => {
  it("HTTP join/leave/move/config/status, exactly once, with every error; admin verbs; a restart keeps the configs", async () => {
    const c = await controllers("ctrl")
    const [h1, h2, h3] = c.httpPorts as [number, number, number]
    // Any replica accepts any request (followers forward to the leader).
    const joined = await until("a join", async () => {
      const r = await http(h2, "POST", "/v1/join", JSON.stringify({ groups: { "100": ["127.0.0.1:7201", "127.0.0.1:7202"] } }))
      return r.status === 200 ? r.json : undefined
    }, 20_000)
    expect(joined).toMatchObject({ num: 1, shards: new Array(10).fill(100), groups: { "100": ["127.0.0.1:7201", "127.0.0.1:7202"] } })
    // Exactly once: the same X-Client-Id/X-Request-Seq twice (to two replicas) makes one config, and
    // the retry answers the config it first made.
    const headers = { "x-client-id": "77", "x-request-seq": "1" }
    const first = await http(h1, "POST", "/v1/join", JSON.stringify({ groups: { "101": ["127.0.0.1:7211"] } }), headers)
    const retry = await http(h3, "POST", "/v1/join", JSON.stringify({ groups: { "101": ["127.0.0.1:7211"] } }), headers)
    expect(first.status).toBe(200)
    expect(retry).toEqual(first)
    expect((await http(h1, "GET", "/v1/config")).json.num).toBe(2)
    // Move to the current owner still makes a config; config/{num} and beyond the latest.
    const owner = first.json.shards[0] as number
    expect((await http(h2, "POST", "/v1/move", JSON.stringify({ shard: 0, gid: owner }))).json.num).toBe(3)
    expect((await http(h2, "GET", "/v1/config/1")).json).toEqual(joined)
    expect((await http(h2, "GET", "/v1/config/99")).json.num).toBe(3)
    expect((await http(h3, "GET", "/v1/config/2?consistency=local")).json).toEqual(first.json)
    const status = (await http(h1, "GET", "/v1/status")).json
    expect(status).toMatchObject({ id: "c1", config: 3 })
    expect(["Leader", "Follower"]).toContain(status.role)

    // Every refusal is a JSON error with its code; none takes a replica down.
    const bad: ReadonlyArray<readonly [string, string, string | undefined, number, string]> = [
      ["POST", "/v1/join", "{not json", 400, "bad_json"],
      ["POST", "/v1/join", JSON.stringify({ groups: { "100": ["x:1"] } }), 400, "bad_request"], // already joined
      ["POST", "/v1/join", JSON.stringify({ groups: { "7": [] } }), 400, "bad_request"], // no servers
      ["POST", "/v1/join", JSON.stringify({ groups: { "abc": ["x:1"] } }), 400, "bad_request"],
      ["POST", "/v1/leave", JSON.stringify({ gids: [555] }), 400, "bad_request"], // not joined
      ["POST", "/v1/move", JSON.stringify({ shard: 10, gid: 100 }), 400, "bad_request"], // out of range
      ["POST", "/v1/move", JSON.stringify({ shard: 1, gid: 999 }), 400, "bad_request"], // unknown gid
      ["POST", "/v1/move", JSON.stringify({ shard: "1" }), 400, "bad_json"],
      ["GET", "/v1/move", undefined, 405, "method_not_allowed"],
      ["GET", "/v1/config/x", undefined, 400, "bad_request"],
      ["GET", "/v2/none", undefined, 404, "not_found"]
    ]
    for (const [method, path, body, code, error] of bad) {
      const r = await http(h3, method, path, body)
      expect(r.status, `${method} ${path} ${body}`).toBe(code)
      expect(r.json.error.code).toBe(error)
    }
    expect((await http(h3, "GET", "/v1/config")).json.num).toBe(3)

    // The admin verbs, against the same cluster.
    const q = concord("shard", "query", "--ctrl", c.peers)
    expect(q.status, q.stderr).toBe(0)
    expect(q.stdout).toContain("config 3: 10 shards, key→shard hash")
    expect(q.stdout).toMatch(/^101 +5 +127\.0\.0\.1:7211$/m)
    const refused = concord("shard", "leave", "4242", "--ctrl", c.peers)
    expect(refused.status).toBe(3)
    expect(refused.stderr.trim()).toBe("concord shard leave: group 4242 has not joined")
    expect(concord("shard", "join", "102=not-an-address", "--ctrl", c.peers).status).toBe(3)
    expect(concord("shard", "move", "2", "101", "--ctrl", c.peers).stdout).toMatch(/^config 4:/)

    // Restart every replica: the configs survive.
    for (const s of c.servers) {
      s.child.kill("SIGTERM")
      expect(await s.exited).toBe(0)
    }
    for (let i = 0; i < 3; i++) c.servers[i] = await c.start(i)
    expect(await until("the configs after a restart", async () => {
      const r = await http(h1, "GET", "/v1/config/4")
      return r.status === 200 ? r.json.num : undefined
    }, 20_000)).toBe(4)

    for (const s of c.servers) {
      s.child.kill("SIGTERM")
      await s.exited
    }
    // A data directory of another cluster is refused in one line.
    const other = concord("shard", "ctrl", "serve", "--id", "c2", "--peers", `c2=127.0.0.1:${await freePort()}`, "--cluster", "other", "--data", c.dataOf("c2"), "--no-http")
    expect(other.status).toBe(1)
    expect(other.stderr.trim().split("\n")).toHaveLength(1)
    expect(other.stderr).toContain("belongs to node c2 of cluster concord")
  }, 120_000)
})
