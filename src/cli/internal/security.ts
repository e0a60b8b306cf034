/**
 * The security flags of every `concord` command: a node's (`--tls-cert/--tls-key/--tls-ca`,
 * `--auth-token-file`, `--cluster-secret-file`) and a client's (`--tls-ca`, `--tls-cert/--tls-key`
 * for a client certificate, `--auth-token-file`; each also from `$CONCORD_TLS_CA`, … so that one
 * `export` serves every later command), the files read with one-line errors, and the client transport
 * made with them.
 * @internal
 */
import { Options } from "@effect/cli"
import { Config, Effect, Option } from "effect"
import { readFileSync } from "node:fs"
import type * as ReplicaNode from "../../replica/ReplicaNode.js"
import * as Tcp from "../../rpc/Tcp.js"
import { ExitCode, fail } from "./exit.js"

const fileFlag = (name: string, description: string) =>
  Options.text(name).pipe(Options.withPseudoName("FILE"), Options.withDescription(description), Options.optional)

/** A client flag, else its environment variable (an empty one is none). */
const orEnv = (flag: Option.Option<string>, env: string) =>
  Option.isSome(flag) ? Effect.succeed(flag) : Config.option(Config.string(env)).pipe(
    Effect.map(Option.filter((path) => path.trim() !== "")),
    Effect.orElseSucceed(() => Option.none<string>())
  )

/** The flags of a node (`kv serve`, `shard ctrl serve`, `shard serve`). */
export const nodeSecurityFlags = {
  tlsCert: fileFlag("tls-cert", "this node's certificate (PEM): TLS on both ports, mutual between nodes; with --tls-key and --tls-ca"),
  tlsKey: fileFlag("tls-key", "the private key of --tls-cert (PEM)"),
  tlsCa: fileFlag("tls-ca", "the CA that signs every node's certificate (PEM): a peer whose certificate it did not sign is refused"),
  authTokenFile: fileFlag(
    "auth-token-file",
    "a file holding the client token: every client request must carry it (HTTP: Authorization: Bearer <token>)"
  ),
  clusterSecretFile: fileFlag(
    "cluster-secret-file",
    "without TLS, a file holding the secret the nodes present to one another (default: the token, if any)"
  )
}

/** The flags of a client command, each with an environment fallback. */
export const clientSecurityFlags = {
  tlsCa: fileFlag("tls-ca", "talk TLS, verifying the servers against this CA (PEM) (default $CONCORD_TLS_CA)"),
  tlsCert: fileFlag("tls-cert", "a client certificate to present (PEM), with --tls-key (default $CONCORD_TLS_CERT)"),
  tlsKey: fileFlag("tls-key", "the private key of --tls-cert (default $CONCORD_TLS_KEY)"),
  authTokenFile: fileFlag("auth-token-file", "a file holding the client token the servers require (default $CONCORD_AUTH_TOKEN_FILE)")
}

export interface NodeSecurityFlags {
  readonly tlsCert: Option.Option<string>
  readonly tlsKey: Option.Option<string>
  readonly tlsCa: Option.Option<string>
  readonly authTokenFile: Option.Option<string>
  readonly clusterSecretFile: Option.Option<string>
}

export interface ClientSecurityFlags {
  readonly tlsCa: Option.Option<string>
  readonly tlsCert: Option.Option<string>
  readonly tlsKey: Option.Option<string>
  readonly authTokenFile: Option.Option<string>
}

/** A file's contents, or a one-line error naming the flag. */
const readFlagFile = (command: string, flag: string, path: string) =>
  Effect.try({
    try: () => readFileSync(path, "utf8"),
    catch: (e) => {
      const code = (e as NodeJS.ErrnoException).code
      const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "is a directory" : (e as Error).message
      return `--${flag} ${path}: ${why}`
    }
  }).pipe(Effect.catchAll((m) => fail(command, ExitCode.BadInput, m)))

/**
 * A secret from its file: the first line, without surrounding whitespace. It travels in an HTTP header,
 * so it must be printable ASCII without spaces.
 */
export const secretOf = (text: string): string | { readonly error: string } => {
  const secret = text.split(/\r?\n/)[0]!.trim()
  if (secret.length === 0) return { error: "is empty" }
  if (!/^[\x21-\x7e]+$/.test(secret)) return { error: "must hold printable ASCII without spaces (the token travels in an HTTP header)" }
  return secret
}

const readSecret = (command: string, flag: string, path: Option.Option<string>) =>
  Option.isNone(path) ? Effect.succeed(undefined) : Effect.flatMap(readFlagFile(command, flag, path.value), (text) => {
    const s = secretOf(text)
    return typeof s === "string" ? Effect.succeed(s) : fail(command, ExitCode.BadInput, `--${flag} ${path.value} ${s.error}`)
  })

/** A node's security from its flags: the three TLS files go together. Undefined: none asked for. */
export const nodeSecurity = (command: string, o: NodeSecurityFlags) =>
  Effect.gen(function*() {
    const given = [o.tlsCert, o.tlsKey, o.tlsCa].filter(Option.isSome).length
    if (given > 0 && given < 3) {
      return yield* fail(command, ExitCode.BadInput, "--tls-cert, --tls-key and --tls-ca go together: give all three, or none")
    }
    const tls = given === 3
      ? {
        cert: yield* readFlagFile(command, "tls-cert", Option.getOrThrow(o.tlsCert)),
        key: yield* readFlagFile(command, "tls-key", Option.getOrThrow(o.tlsKey)),
        ca: yield* readFlagFile(command, "tls-ca", Option.getOrThrow(o.tlsCa))
      }
      : undefined
    const token = yield* readSecret(command, "auth-token-file", o.authTokenFile)
    const clusterSecret = yield* readSecret(command, "cluster-secret-file", o.clusterSecretFile)
    const security: ReplicaNode.Security = {
      ...(tls === undefined ? {} : { tls }),
      ...(token === undefined ? {} : { token }),
      ...(clusterSecret === undefined ? {} : { clusterSecret })
    }
    return Object.keys(security).length === 0 ? undefined : security
  })

/** What a node's listening line says about its security (empty without). */
export const describeNodeSecurity = (s: ReplicaNode.Security | undefined): string =>
  s === undefined ? "" : "; " + [
    s.tls === undefined ? undefined : "mutual TLS between nodes, HTTPS",
    s.token === undefined ? undefined : "client token required",
    s.tls === undefined && (s.clusterSecret ?? s.token) !== undefined
      ? `peers by ${s.clusterSecret === undefined ? "the token as cluster secret" : "cluster secret"}`
      : undefined
  ].filter((x) => x !== undefined).join(", ")

/** A client's transport options from its flags (TLS if --tls-ca; a client certificate if --tls-cert/--tls-key). */
export const clientSecurity = (command: string, flags: ClientSecurityFlags) =>
  Effect.gen(function*() {
    const o: ClientSecurityFlags = {
      tlsCa: yield* orEnv(flags.tlsCa, "CONCORD_TLS_CA"),
      tlsCert: yield* orEnv(flags.tlsCert, "CONCORD_TLS_CERT"),
      tlsKey: yield* orEnv(flags.tlsKey, "CONCORD_TLS_KEY"),
      authTokenFile: yield* orEnv(flags.authTokenFile, "CONCORD_AUTH_TOKEN_FILE")
    }
    if (Option.isSome(o.tlsCert) !== Option.isSome(o.tlsKey)) {
      return yield* fail(command, ExitCode.BadInput, "--tls-cert and --tls-key go together")
    }
    if (Option.isSome(o.tlsCert) && Option.isNone(o.tlsCa)) {
      return yield* fail(command, ExitCode.BadInput, "--tls-cert needs --tls-ca (the CA that signed the servers' certificates)")
    }
    const token = yield* readSecret(command, "auth-token-file", o.authTokenFile)
    const options: Pick<Tcp.Options, "tls" | "auth"> = {
      ...(Option.isNone(o.tlsCa) ? {} : {
        tls: {
          ca: yield* readFlagFile(command, "tls-ca", o.tlsCa.value),
          ...(Option.isNone(o.tlsCert) ? {} : {
            cert: yield* readFlagFile(command, "tls-cert", o.tlsCert.value),
            key: yield* readFlagFile(command, "tls-key", Option.getOrThrow(o.tlsKey))
          })
        }
      }),
      ...(token === undefined ? {} : { auth: { token } })
    }
    return options
  })

/** A client transport with the client's security; bad TLS material is a one-line error. */
export const clientTransport = (command: string, security: Pick<Tcp.Options, "tls" | "auth">, options: Tcp.Options) =>
  Tcp.make({ ...options, ...security }).pipe(
    Effect.catchTags({
      TlsError: (e) => fail(command, ExitCode.BadInput, `${e.message} (--tls-ca/--tls-cert/--tls-key)`),
      ListenError: (e) => fail(command, ExitCode.Failed, e.message)
    })
  )
