/**
 * The authentication pieces of the TCP transport: the hello frame a dialling side sends first (its
 * token and cluster secret), constant-time secret comparison, and what makes a TLS certificate a
 * member's.
 * @internal
 */
import { Either } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"
import type * as tls from "node:tls"
import * as Codec from "../../codec/Codec.js"

/** What a connection presents in its hello frame. */
export interface Hello {
  readonly token?: string | undefined
  readonly secret?: string | undefined
}

export const encodeHello = (hello: Hello): Uint8Array => Codec.pack({ token: hello.token ?? null, secret: hello.secret ?? null })

/** The hello's fields, or undefined for bytes that are not a hello. */
export const decodeHello = (bytes: Uint8Array): { readonly token: string | null; readonly secret: string | null } | undefined => {
  const unpacked = Codec.unpack(bytes, "hello")
  if (Either.isLeft(unpacked)) return undefined
  const v = unpacked.right as { token?: unknown; secret?: unknown } | null
  if (v === null || typeof v !== "object") return undefined
  const field = (x: unknown) => (typeof x === "string" ? x : x === null || x === undefined ? null : undefined)
  const token = field(v.token)
  const secret = field(v.secret)
  return token === undefined || secret === undefined ? undefined : { token, secret }
}

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest()

/**
 * Whether `given` is `expected`, in time independent of where they differ (and of their lengths:
 * both are hashed to 32 bytes first, which `timingSafeEqual` needs anyway).
 */
export const sameSecret = (given: string | null | undefined, expected: string): boolean =>
  typeof given === "string" && timingSafeEqual(digest(given), digest(expected))

const SERVER_AUTH = "1.3.6.1.5.5.7.3.1"

/**
 * Whether a verified certificate is a member's: it may serve a node's port (extended key usage
 * serverAuth, or no restriction at all). A client-only certificate (clientAuth) is signed by the same
 * CA but makes its holder a client, not a member.
 */
export const isMemberCertificate = (cert: tls.PeerCertificate): boolean =>
  cert.ext_key_usage === undefined || cert.ext_key_usage.includes(SERVER_AUTH)

/** A certificate's subject, for log lines. */
export const subjectOf = (cert: tls.PeerCertificate): string => {
  const cn = cert.subject?.CN
  return cn === undefined ? "(no subject)" : `CN=${Array.isArray(cn) ? cn.join(",") : cn}`
}
