/**
 * Certificates for a test cluster (`concord certs create`, `concord cluster up --tls`): a CA, one
 * certificate per node (usable as server and as client, for mutual TLS between nodes; SAN 127.0.0.1
 * and localhost plus any `hosts`), and one client certificate (client use only, so it does not make its
 * holder a cluster member, see `Tcp.Options.tls`). ECDSA P-256 keys, SHA-256 signatures.
 *
 * Made with the system's `openssl` (run as a child process). Why not a library: node:crypto makes
 * keys but cannot issue X.509 certificates, and no well-kept pure-JS X.509 issuer is among our
 * dependencies; `openssl` is on every Debian-like machine and is what operators use for this anyway.
 * @internal
 */
import { Effect } from "effect"
import { execFile } from "node:child_process"
import { randomBytes } from "node:crypto"
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"

/** What `create` wrote: the paths of the CA, of each node's pair and of the client's pair. */
export interface Created {
  readonly dir: string
  readonly ca: string
  readonly nodes: Readonly<Record<string, { readonly cert: string; readonly key: string }>>
  readonly client: { readonly cert: string; readonly key: string }
}

/** The files `create` makes in `dir`. */
export const files = (dir: string, nodes: ReadonlyArray<string>): Created => ({
  dir,
  ca: join(dir, "ca.crt"),
  nodes: Object.fromEntries(nodes.map((n) => [n, { cert: join(dir, `${n}.crt`), key: join(dir, `${n}.key`) }])),
  client: { cert: join(dir, "client.crt"), key: join(dir, "client.key") }
})

/** Whether every file `create` would make for `nodes` is already in `dir`. */
export const complete = (dir: string, nodes: ReadonlyArray<string>): boolean => {
  const f = files(dir, nodes)
  return [f.ca, join(dir, "ca.key"), f.client.cert, f.client.key, ...Object.values(f.nodes).flatMap((n) => [n.cert, n.key])].every(existsSync)
}

const NODE_NAME = /^[A-Za-z0-9_.-]+$/

const config = (sans: string) => `[req]
distinguished_name = dn
prompt = no
[dn]
CN = concord
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[node_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = ${sans}
[client_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
`

/** `host` as a SAN entry: an IP address or a DNS name. */
const san = (host: string) => (/^[\d.]+$/.test(host) || host.includes(":") ? `IP:${host}` : `DNS:${host}`)

const openssl = (args: ReadonlyArray<string>) =>
  Effect.async<void, string>((resume) => {
    execFile("openssl", args, { timeout: 30_000 }, (err, _stdout, stderr) => {
      if (err === null) return resume(Effect.void)
      const code = (err as NodeJS.ErrnoException).code
      resume(Effect.fail(
        code === "ENOENT"
          ? "openssl is not installed (it makes the certificates; on Debian: apt-get install openssl)"
          : `openssl ${args[0]} failed: ${String(stderr).trim().split("\n")[0] || err.message}`
      ))
    })
  })

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
const serial = () => `0x${randomBytes(16).toString("hex").replace(/^[89a-f]/, "1")}`

/**
 * Makes the CA, node and client certificates in `dir` (created if absent), valid for `days`. Fails with
 * a one-line reason: a bad node name, a `dir` that already holds a CA, openssl missing or failing.
 */
export const create = (o: {
  readonly dir: string
  readonly nodes: ReadonlyArray<string>
  readonly hosts?: ReadonlyArray<string>
  readonly days?: number
}): Effect.Effect<Created, string> =>
  Effect.gen(function*() {
    const bad = o.nodes.find((n) => !NODE_NAME.test(n) || n === "ca" || n === "client")
    if (bad !== undefined) return yield* Effect.fail(`"${bad}" cannot name a node certificate (letters, digits, _ . - ; not ca or client)`)
    if (o.nodes.length === 0) return yield* Effect.fail("no nodes")
    const dir = o.dir
    if (existsSync(join(dir, "ca.key")) || existsSync(join(dir, "ca.crt"))) {
      return yield* Effect.fail(`${dir} already holds a CA (ca.crt/ca.key); remove it or choose another directory`)
    }
    yield* Effect.try({ try: () => mkdirSync(dir, { recursive: true }), catch: (e) => `cannot create ${dir}: ${(e as Error).message}` })
    const sans = ["IP:127.0.0.1", "DNS:localhost", ...(o.hosts ?? []).map(san)].join(",")
    const cnf = join(dir, ".openssl.cnf")
    writeFileSync(cnf, config(sans))
    const days = String(o.days ?? 825)
    const f = files(dir, o.nodes)
    const caKey = join(dir, "ca.key")
    const issue = (name: string, cert: string, key: string, ext: string) =>
      Effect.gen(function*() {
        const csr = join(dir, `.${name}.csr`)
        yield* openssl(["req", "-new", "-config", cnf, ...EC, "-keyout", key, "-out", csr, "-subj", `/CN=${name}`])
        yield* openssl([
          "x509", "-req", "-in", csr, "-CA", f.ca, "-CAkey", caKey, "-set_serial", serial(), "-days", days, "-sha256",
          "-extfile", cnf, "-extensions", ext, "-out", cert
        ])
        rmSync(csr, { force: true })
        chmodSync(key, 0o600)
      })
    yield* Effect.gen(function*() {
      yield* openssl([
        "req", "-x509", "-new", "-config", cnf, "-extensions", "ca_ext", ...EC, "-keyout", caKey, "-out", f.ca,
        "-days", days, "-sha256", "-subj", "/CN=Concord test CA"
      ])
      chmodSync(caKey, 0o600)
      for (const [name, pair] of Object.entries(f.nodes)) yield* issue(name, pair.cert, pair.key, "node_ext")
      yield* issue("client", f.client.cert, f.client.key, "client_ext")
    }).pipe(Effect.ensuring(Effect.sync(() => rmSync(cnf, { force: true }))))
    return f
  })
