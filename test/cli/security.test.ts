/** The security flags' parsing (in process): secrets from files, which flags go together, environment fallbacks. */
import { Effect, Exit, Option } from "effect"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it, vi } from "vitest"
import { exitCodeOf } from "../../src/cli/internal/exit.js"
import { clientSecurity, nodeSecurity, secretOf } from "../../src/cli/internal/security.js"

const dir = mkdtempSync(join(tmpdir(), "concord-flags-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text)
  return Option.some(join(dir, name))
}
const none = Option.none<string>()
const noFlags = { tlsCert: none, tlsKey: none, tlsCa: none, authTokenFile: none, clusterSecretFile: none }

describe("security flags", () => {
  it("a secret is its file's first line, trimmed; empty or not header-safe is refused", () => {
    expect(secretOf("tok-123\n")).toBe("tok-123")
    expect(secretOf("  tok\r\nsecond line\n")).toBe("tok")
    expect(secretOf("\n")).toEqual({ error: "is empty" })
    expect(secretOf("two words")).toMatchObject({ error: expect.stringContaining("printable ASCII without spaces") })
    expect(secretOf("naïve")).toMatchObject({ error: expect.stringContaining("printable ASCII") })
  })

  it("a node: none asked is no security; the token and secret are read; TLS files go together (exit 3)", async () => {
    expect(await Effect.runPromise(nodeSecurity("kv serve", noFlags))).toBeUndefined()
    const s = await Effect.runPromise(nodeSecurity("kv serve", {
      ...noFlags,
      authTokenFile: file("token", "t0ken\n"),
      clusterSecretFile: file("secret", "s3cret\n")
    }))
    expect(s).toEqual({ token: "t0ken", clusterSecret: "s3cret" })
    const partial = await Effect.runPromiseExit(nodeSecurity("kv serve", { ...noFlags, tlsCa: file("ca", "x") }))
    expect(Exit.isFailure(partial) && exitCodeOf(partial)).toBe(3)
  })

  it("a client: --tls-cert needs --tls-key and --tls-ca; $CONCORD_TLS_CA and $CONCORD_AUTH_TOKEN_FILE stand in for the flags", async () => {
    const client = { tlsCa: none, tlsCert: none, tlsKey: none, authTokenFile: none }
    const onlyCert = await Effect.runPromiseExit(clientSecurity("kv get", { ...client, tlsCert: file("c", "x") }))
    expect(exitCodeOf(onlyCert)).toBe(3)
    vi.stubEnv("CONCORD_TLS_CA", Option.getOrThrow(file("ca.crt", "PEM")))
    vi.stubEnv("CONCORD_AUTH_TOKEN_FILE", Option.getOrThrow(file("tok", "abc\n")))
    expect(await Effect.runPromise(clientSecurity("kv get", client))).toEqual({ tls: { ca: "PEM" }, auth: { token: "abc" } })
    vi.stubEnv("CONCORD_TLS_CA", "")
    expect(await Effect.runPromise(clientSecurity("kv get", client))).toEqual({ auth: { token: "abc" } })
    vi.unstubAllEnvs()
  })
})
