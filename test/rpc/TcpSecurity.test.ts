/**
 * The TCP transport's security on real loopback sockets: mutual TLS, client connections without a
 * certificate, a certificate of another CA, plain TCP against TLS, the client token and the cluster
 * secret. Certificates come from `concord certs create`'s code (the system's openssl).
 */
import { it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it as vitest } from "vitest"
import * as Certs from "../../src/cli/internal/certs.js"
import { sameSecret } from "../../src/rpc/internal/auth.js"
import * as Tcp from "../../src/rpc/Tcp.js"
import { Echo, Length, TestProtocol, testHandlers } from "./protocol.js"

let dir = ""
const read = (f: string) => readFileSync(f, "utf8")
let ours: Certs.Created
let theirs: Certs.Created

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "concord-tls-"))
  ours = await Effect.runPromise(Certs.create({ dir: join(dir, "ours"), nodes: ["n1", "n2"] }))
  theirs = await Effect.runPromise(Certs.create({ dir: join(dir, "theirs"), nodes: ["n1"] }))
}, 60_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const tlsOf = (c: Certs.Created, who: "n1" | "n2" | "client" | "none"): Tcp.TlsOptions =>
  who === "none"
    ? { ca: read(c.ca) }
    : who === "client"
    ? { ca: read(c.ca), cert: read(c.client.cert), key: read(c.client.key) }
    : { ca: read(c.ca), cert: read(c.nodes[who]!.cert), key: read(c.nodes[who]!.key) }

/** A server that serves Echo to clients and Length to members only; counts handler runs. */
const server = (options: Partial<Tcp.Options>) =>
  Effect.gen(function*() {
    let runs = 0
    const t = yield* Tcp.make({ self: "server", listen: {}, ...options, auth: { clientRequests: ["Echo"], ...options.auth } })
    yield* t.serve(TestProtocol, testHandlers(() => runs++))
    return { t, runs: () => runs }
  })

const client = (port: number, options: Partial<Tcp.Options>) =>
  Tcp.make({ self: "client", peers: { server: `127.0.0.1:${port}` }, callTimeout: "5 seconds", ...options })

const echo = new Echo({ text: "hi" })
const length = new Length({ text: "four" })

/** Runs `effect` with its log lines collected in `lines`. */
const logged = <A, E, R>(lines: Array<string>, effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => lines.push([message].flat().join(" "))))))

const reasonOf = (e: unknown) => (e as { reason?: string }).reason

describe("Tcp security", () => {
  it.scopedLive("mutual TLS: a member's certificate calls everything; a client without one only client requests", () =>
    Effect.gen(function*() {
      const s = yield* server({ tls: tlsOf(ours, "n1") })
      const member = yield* client(s.t.address!.port, { tls: tlsOf(ours, "n2") })
      expect(yield* member.call("server", length)).toBe(4)
      expect(yield* member.call("server", echo)).toBe("hi")
      for (const who of ["none", "client"] as const) {
        const c = yield* client(s.t.address!.port, { tls: tlsOf(ours, who) })
        expect(yield* c.call("server", echo)).toBe("hi")
        const refused = yield* Effect.flip(c.call("server", length))
        expect(reasonOf(refused)).toBe("Unauthorized")
        expect(refused.message).toContain("for cluster members only")
      }
      expect(s.runs()).toBe(4)
    }))

  it.scopedLive("a certificate of another CA is refused before any frame, with one logged line; others go on", () => {
    const lines: Array<string> = []
    return logged(lines, Effect.gen(function*() {
      const s = yield* server({ tls: tlsOf(ours, "n1") })
      const stranger = yield* client(s.t.address!.port, { tls: { ...tlsOf(theirs, "n1"), ca: read(ours.ca) } })
      const e = yield* Effect.flip(stranger.call("server", length))
      expect(["Closed", "Unreachable"]).toContain(reasonOf(e))
      expect(lines.some((l) => /refusing connection from 127\.0\.0\.1:\d+: certificate CN=n1 is not trusted/.test(l))).toBe(true)
      // The stranger cannot even verify our server: its CA did not sign our certificate.
      const blind = yield* client(s.t.address!.port, { tls: tlsOf(theirs, "n1") })
      const e2 = yield* Effect.flip(blind.call("server", echo))
      expect(reasonOf(e2)).toBe("Unreachable")
      expect(e2.message).toContain("TLS:")
      expect(s.runs()).toBe(0)
      const member = yield* client(s.t.address!.port, { tls: tlsOf(ours, "n2") })
      expect(yield* member.call("server", length)).toBe(4)
    }))
  })

  it.scopedLive("plain TCP against a TLS port is refused (logged), and a TLS client against a plain port fails", () => {
    const lines: Array<string> = []
    return logged(lines, Effect.gen(function*() {
      const s = yield* server({ tls: tlsOf(ours, "n1") })
      const plain = yield* client(s.t.address!.port, {})
      const e = yield* Effect.flip(plain.call("server", echo))
      expect(reasonOf(e)).toBe("Closed")
      yield* Effect.sleep("50 millis")
      expect(lines.some((l) => /refusing connection from 127\.0\.0\.1:\d+: TLS handshake failed/.test(l))).toBe(true)
      const p = yield* server({})
      const tlsClient = yield* client(p.t.address!.port, { tls: tlsOf(ours, "n2") })
      expect(yield* Effect.flip(tlsClient.call("server", echo))).toBeInstanceOf(Object)
      expect(s.runs() + p.runs()).toBe(0)
      expect(yield* (yield* client(s.t.address!.port, { tls: tlsOf(ours, "none") })).call("server", echo)).toBe("hi")
    }))
  })

  it.scopedLive("the client token: missing or wrong is Unauthorized, the right one is served", () =>
    Effect.gen(function*() {
      const s = yield* server({ tls: tlsOf(ours, "n1"), auth: { token: "s3cret-token" } })
      const port = s.t.address!.port
      const none = yield* Effect.flip((yield* client(port, { tls: tlsOf(ours, "none") })).call("server", echo))
      expect(reasonOf(none)).toBe("Unauthorized")
      expect(none.message).toContain("requires the client token")
      const wrong = yield* Effect.flip((yield* client(port, { tls: tlsOf(ours, "none"), auth: { token: "guess" } })).call("server", echo))
      expect(reasonOf(wrong)).toBe("Unauthorized")
      expect(wrong.message).toContain("wrong client token")
      expect(wrong.message).not.toContain("s3cret")
      expect(yield* (yield* client(port, { tls: tlsOf(ours, "none"), auth: { token: "s3cret-token" } })).call("server", echo)).toBe("hi")
      // A member (node certificate) needs no token.
      expect(yield* (yield* client(port, { tls: tlsOf(ours, "n2") })).call("server", length)).toBe(4)
      expect(s.runs()).toBe(2)
    }))

  it.scopedLive("without TLS, the cluster secret makes a member; the token alone a client", () =>
    Effect.gen(function*() {
      const s = yield* server({ auth: { token: "tok", clusterSecret: "sec" } })
      const port = s.t.address!.port
      const member = yield* client(port, { auth: { clusterSecret: "sec" } })
      expect(yield* member.call("server", length)).toBe(4)
      const user = yield* client(port, { auth: { token: "tok" } })
      expect(yield* user.call("server", echo)).toBe("hi")
      expect(reasonOf(yield* Effect.flip(user.call("server", length)))).toBe("Unauthorized")
      const impostor = yield* client(port, { auth: { token: "tok", clusterSecret: "guess" } })
      expect(reasonOf(yield* Effect.flip(impostor.call("server", length)))).toBe("Unauthorized")
      // With no secret of its own, the token is the cluster secret.
      const t = yield* server({ auth: { token: "tok" } })
      expect(yield* (yield* client(t.t.address!.port, { auth: { token: "tok" } })).call("server", length)).toBe(4)
      expect(reasonOf(yield* Effect.flip((yield* client(t.t.address!.port, {})).call("server", echo)))).toBe("Unauthorized")
    }))

  it.scopedLive("bad TLS material is a TlsError with a plain reason", () =>
    Effect.gen(function*() {
      const mismatched = yield* Effect.flip(Tcp.make({
        self: "s",
        listen: {},
        tls: { ca: read(ours.ca), cert: read(ours.nodes.n1!.cert), key: read(ours.nodes.n2!.key) }
      }))
      expect(mismatched.message).toBe("TLS: the key does not match the certificate")
      const noCert = yield* Effect.flip(Tcp.make({ self: "s", listen: {}, tls: { ca: read(ours.ca) } }))
      expect(noCert.message).toContain("needs its certificate and key")
      const garbage = yield* Effect.flip(Tcp.make({ self: "c", tls: { ca: "not a certificate" } }))
      expect(garbage.message).toMatch(/^TLS: the CA is not a PEM certificate/)
      const badKey = yield* Effect.flip(Tcp.make({ self: "c", tls: { ca: read(ours.ca), cert: read(ours.nodes.n1!.cert), key: "junk" } }))
      expect(badKey.message).toMatch(/^TLS: the key is not a PEM private key/)
    }))
})

describe("sameSecret", () => {
  vitest("compares whole secrets of any length, and refuses a missing one", () => {
    expect(sameSecret("abc", "abc")).toBe(true)
    expect(sameSecret("abd", "abc")).toBe(false)
    expect(sameSecret("ab", "abc")).toBe(false)
    expect(sameSecret("abcd", "abc")).toBe(false)
    expect(sameSecret("", "abc")).toBe(false)
    expect(sameSecret(null, "abc")).toBe(false)
    expect(sameSecret(undefined, "abc")).toBe(false)
  })
})
