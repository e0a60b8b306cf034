/**
 * The key/value service over HTTP/JSON, served by every node. Any node accepts any request: reads and
 * writes are forwarded to the leader over the cluster's own TCP transport (a pool of `KvClient`s),
 * so a client can talk to whichever node it likes.
 *
 *   GET    /v1/kv/{key}            {"key","value"}   linearizable ("" if absent); ?consistency=local reads this node's copy
 *   PUT    /v1/kv/{key}            body = value      (raw, or {"value": "..."} with Content-Type: application/json)
 *   POST   /v1/kv/{key}/append     body = suffix
 *   DELETE /v1/kv/{key}
 *   GET    /v1/status              this node: id, role, term, leader, commit, applied, log bytes, snapshot index
 *
 * Keys are one path segment, percent-encoded (`/` as %2F). A write carrying both `X-Client-Id` and
 * `X-Request-Seq` is executed once per (id, seq): a client that retries with the same pair (after a
 * timeout, say) cannot apply it twice. Use a random id per client, sequence numbers 1, 2, 3, ..., and
 * one request at a time per id. Errors are JSON, `{"error": {"code", "message"}}`, with stable codes:
 * bad_request, bad_json, key_too_large, value_too_large, not_found, method_not_allowed, unavailable,
 * internal.
 * @since 0.1.0
 */
import {
  Headers,
  HttpIncomingMessage,
  HttpServer,
  type HttpServerError,
  HttpServerRequest,
  HttpServerResponse
} from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Duration, Effect, Option, Pool, type Scope } from "effect"
import { createServer } from "node:http"
import type { Transport } from "../rpc/Transport.js"
import * as KvClient from "./KvClient.js"
import * as Kv from "./KvStateMachine.js"
import type { KvServerShape } from "./KvServer.js"

export interface Options {
  readonly host: string
  /** 0 picks a free port. */
  readonly port: number
  /** Every member's id (forwarding targets). */
  readonly servers: ReadonlyArray<string>
  readonly maxKeyBytes?: number
  readonly maxValueBytes?: number
  /** A request that cannot complete in this time (no leader) is answered 503 unavailable. */
  readonly requestTimeoutMs?: number
  /** Forwarding clients (requests in flight per node). */
  readonly clients?: number
}

type Code =
  | "bad_request"
  | "bad_json"
  | "key_too_large"
  | "value_too_large"
  | "not_found"
  | "method_not_allowed"
  | "unavailable"
  | "internal"

const STATUS: Record<Code, number> = {
  bad_request: 400,
  bad_json: 400,
  key_too_large: 414,
  value_too_large: 413,
  not_found: 404,
  method_not_allowed: 405,
  unavailable: 503,
  internal: 500
}

const error = (code: Code, message: string) =>
  HttpServerResponse.unsafeJson({ error: { code, message } }, { status: STATUS[code] })

class HttpFailure {
  constructor(readonly code: Code, readonly message: string) {}
}
const reject = (code: Code, message: string) => Effect.fail(new HttpFailure(code, message))

const MAX_CLIENT_ID = 2 ** 52

const parseInt = (name: string, text: string, min: number, max: number) => {
  const n = Number(text)
  return Number.isSafeInteger(n) && n >= min && n <= max && /^\d+$/.test(text.trim())
    ? Effect.succeed(n)
    : reject("bad_request", `${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(text.slice(0, 40))}`)
}

/** Serves the HTTP API in the current scope; returns the bound port. */
export const serve = (
  kv: KvServerShape,
  options: Options
): Effect.Effect<{ readonly port: number }, HttpServerError.ServeError, Transport | Scope.Scope> =>
  Effect.gen(function*() {
    const maxKey = options.maxKeyBytes ?? 1024
    const maxValue = options.maxValueBytes ?? 1024 * 1024
    const timeout = Duration.millis(options.requestTimeoutMs ?? 5000)
    const pool = yield* Pool.make({
      acquire: KvClient.make({ servers: options.servers, callTimeout: "2 seconds" }),
      size: options.clients ?? 32
    })
    const withClient = <A>(f: (c: KvClient.KvClientShape) => Effect.Effect<A, KvClient.KvTimeout>) =>
      Effect.scoped(Effect.flatMap(Pool.get(pool), f)).pipe(
        Effect.timeoutFail({ duration: timeout, onTimeout: () => new HttpFailure("unavailable", "") }),
        Effect.catchTag("KvTimeout", () => reject("unavailable", "")),
        Effect.mapError((e) =>
          e instanceof HttpFailure && e.code === "unavailable"
            ? new HttpFailure("unavailable", `no leader answered within ${Duration.format(timeout)}; the cluster may have lost its majority`)
            : e
        )
      )

    const keyOf = (encoded: string) =>
      Effect.suspend(() => {
        let key: string
        try {
          key = decodeURIComponent(encoded)
        } catch {
          return reject("bad_request", "the key is not valid percent-encoding")
        }
        if (key.length === 0) return reject("bad_request", "empty key")
        if (Buffer.byteLength(key) > maxKey) return reject("key_too_large", `keys are limited to ${maxKey} bytes`)
        return Effect.succeed(key)
      })

    const bodyValue = (request: HttpServerRequest.HttpServerRequest) =>
      Effect.gen(function*() {
        // Refuse by the declared length before reading: answering mid-upload resets the connection.
        // (A chunked body without a length is cut off by the size limit below instead.)
        const declared = Option.map(Headers.get(request.headers, "content-length"), Number)
        if (Option.isSome(declared) && declared.value > maxValue + 1024) {
          return yield* reject("value_too_large", `values are limited to ${maxValue} bytes`)
        }
        const text = yield* request.text.pipe(
          HttpIncomingMessage.withMaxBodySize(Option.some(maxValue + 1024)),
          Effect.mapError(() => new HttpFailure("value_too_large", `values are limited to ${maxValue} bytes`))
        )
        let value = text
        const type = Option.getOrElse(Headers.get(request.headers, "content-type"), () => "")
        if (type.startsWith("application/json")) {
          let parsed: unknown
          try {
            parsed = JSON.parse(text)
          } catch (e) {
            return yield* reject("bad_json", `the body is not JSON: ${(e as Error).message}`)
          }
          if (typeof parsed !== "object" || parsed === null || typeof (parsed as { value?: unknown }).value !== "string") {
            return yield* reject("bad_json", `a JSON body must be {"value": "<string>"}`)
          }
          value = (parsed as { value: string }).value
        }
        if (Buffer.byteLength(value) > maxValue) return yield* reject("value_too_large", `values are limited to ${maxValue} bytes`)
        return value
      })

    /** The caller's exactly-once identity, if it sent one. */
    const identity = (request: HttpServerRequest.HttpServerRequest) =>
      Effect.gen(function*() {
        const id = Headers.get(request.headers, "x-client-id")
        const seq = Headers.get(request.headers, "x-request-seq")
        if (Option.isNone(id) && Option.isNone(seq)) return undefined
        if (Option.isNone(id) || Option.isNone(seq)) {
          return yield* reject("bad_request", "send both X-Client-Id and X-Request-Seq, or neither")
        }
        return {
          clientId: yield* parseInt("X-Client-Id", id.value, 0, MAX_CLIENT_ID),
          seq: yield* parseInt("X-Request-Seq", seq.value, 1, Number.MAX_SAFE_INTEGER)
        }
      })

    const write = (request: HttpServerRequest.HttpServerRequest, op: "put" | "append" | "delete", key: string) =>
      Effect.gen(function*() {
        const value = op === "delete" ? "" : yield* bodyValue(request)
        const who = yield* identity(request)
        yield* withClient((c) =>
          who === undefined
            ? op === "delete" ? c.delete(key) : op === "put" ? c.put(key, value) : c.append(key, value)
            : c.forward({ op, key, value, ...who })
        )
        return HttpServerResponse.unsafeJson({ ok: true })
      })

    const route = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const url = new URL(request.url, "http://localhost")
      const path = url.pathname
      if (path === "/v1/status") {
        if (request.method !== "GET") return yield* reject("method_not_allowed", "use GET /v1/status")
        return HttpServerResponse.unsafeJson({ ...(yield* kv.status) })
      }
      if (!path.startsWith("/v1/kv/")) return yield* reject("not_found", `no such resource: ${path.slice(0, 100)}`)
      const rest = path.slice("/v1/kv/".length)
      const append = rest.endsWith("/append")
      const segment = append ? rest.slice(0, -"/append".length) : rest
      if (segment.includes("/")) return yield* reject("bad_request", "a key is one path segment: percent-encode '/' as %2F")
      const key = yield* keyOf(segment)
      if (append) {
        if (request.method !== "POST") return yield* reject("method_not_allowed", "use POST /v1/kv/{key}/append")
        return yield* write(request, "append", key)
      }
      switch (request.method) {
        case "GET": {
          if (url.searchParams.get("consistency") === "local") {
            const local = yield* kv.replica.local
            return HttpServerResponse.unsafeJson({ key, value: Kv.get(local.state, key), applied: local.applied })
          }
          const value = yield* withClient((c) => c.get(key))
          return HttpServerResponse.unsafeJson({ key, value })
        }
        case "PUT":
          return yield* write(request, "put", key)
        case "DELETE":
          return yield* write(request, "delete", key)
        default:
          return yield* reject("method_not_allowed", `${request.method} is not supported on /v1/kv/{key}`)
      }
    })

    const app = route.pipe(
      Effect.catchAll((e) => Effect.succeed(e instanceof HttpFailure ? error(e.code, e.message) : error("internal", String(e)))),
      Effect.catchAllDefect((d) => Effect.logError("HTTP handler died", d).pipe(Effect.as(error("internal", "internal error"))))
    )

    const server = yield* NodeHttpServer.make(() => createServer(), { host: options.host, port: options.port })
    yield* HttpServer.serveEffect(app).pipe(Effect.provideService(HttpServer.HttpServer, server))
    const address = server.address
    return { port: address._tag === "TcpAddress" ? address.port : options.port }
  })
