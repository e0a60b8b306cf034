/**
 * The pieces every Concord HTTP/JSON API is built from (the key/value service's, the shard
 * controller's, the sharded key/value service's), so that they share one error shape, one set of
 * codes, one reading of the exactly-once headers and keys and values, and one way of forwarding to
 * the servers that can answer.
 *
 * Errors are JSON, `{"error": {"code", "message"}}`, with stable codes (`Code`); every response body
 * ends with a newline, so that curl's output does not run into the prompt.
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
import { Context, Data, Duration, Effect, Option, Pool, type Scope } from "effect"
import { createServer, type Server } from "node:http"
import { createServer as createHttpsServer } from "node:https"
import * as Limits from "../kv/Limits.js"
import type { Unauthorized } from "../replica/Clerk.js"
import type { InvalidRequest } from "../replica/Messages.js"
import { sameSecret } from "../rpc/internal/auth.js"

/** The stable error codes. */
export type Code =
  | "bad_request"
  | "bad_json"
  | "key_too_large"
  | "value_too_large"
  | "not_found"
  | "method_not_allowed"
  | "unauthorized"
  | "unavailable"
  | "internal"

export const STATUS: Record<Code, number> = {
  bad_request: 400,
  bad_json: 400,
  key_too_large: 414,
  value_too_large: 413,
  not_found: 404,
  method_not_allowed: 405,
  unauthorized: 401,
  unavailable: 503,
  internal: 500
}

/** A request answered with an error response. */
export class HttpFailure extends Data.TaggedError("HttpFailure")<{ readonly code: Code; readonly message: string }> {}

export const reject = (code: Code, message: string) => Effect.fail(new HttpFailure({ code, message }))

/** A request refused as it stands, in HTTP terms (same codes). */
export const fromInvalid = (e: InvalidRequest) => new HttpFailure({ code: e.code, message: e.reason })

/** A JSON response; the body ends with a newline. */
export const json = (body: unknown, status = 200) =>
  HttpServerResponse.text(JSON.stringify(body) + "\n", { status, contentType: "application/json" })

export const errorResponse = (code: Code, message: string) => json({ error: { code, message } }, STATUS[code])

const MAX_CLIENT_ID = 2 ** 52

const integer = (name: string, text: string, min: number, max: number) => {
  const n = Number(text)
  return Number.isSafeInteger(n) && n >= min && n <= max && /^\d+$/.test(text.trim())
    ? Effect.succeed(n)
    : reject("bad_request", `${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(text.slice(0, 40))}`)
}

/**
 * The caller's exactly-once identity (`X-Client-Id` + `X-Request-Seq`), if it sent one: a write
 * carrying it executes once per pair, however often it is sent.
 */
export const identity = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.gen(function*() {
    const id = Headers.get(request.headers, "x-client-id")
    const seq = Headers.get(request.headers, "x-request-seq")
    if (Option.isNone(id) && Option.isNone(seq)) return undefined
    if (Option.isNone(id) || Option.isNone(seq)) {
      return yield* reject("bad_request", "send both X-Client-Id and X-Request-Seq, or neither")
    }
    return {
      clientId: yield* integer("X-Client-Id", id.value, 0, MAX_CLIENT_ID),
      seq: yield* integer("X-Request-Seq", seq.value, 1, Number.MAX_SAFE_INTEGER)
    }
  })

/** A key from one percent-encoded path segment, within the limits. */
export const pathKey = (encoded: string, limits: Limits.Limits = Limits.defaults) =>
  Effect.suspend(() => {
    if (encoded.includes("/")) return reject("bad_request", "a key is one path segment: percent-encode '/' as %2F")
    let key: string
    try {
      key = decodeURIComponent(encoded)
    } catch {
      return reject("bad_request", "the key is not valid percent-encoding")
    }
    const bad = Limits.checkKey(key, limits)
    return bad === undefined ? Effect.succeed(key) : Effect.fail(fromInvalid(bad))
  })

/** Reads the body as text, refusing more than `maxBytes` (by the declared length before reading). */
export const bodyText = (request: HttpServerRequest.HttpServerRequest, maxBytes: number, tooLarge: HttpFailure) =>
  Effect.gen(function*() {
    // Refusing before reading: answering mid-upload resets the connection. (A chunked body without a
    // length is cut off by the size limit below instead.)
    const declared = Option.map(Headers.get(request.headers, "content-length"), Number)
    if (Option.isSome(declared) && declared.value > maxBytes) return yield* Effect.fail(tooLarge)
    return yield* request.text.pipe(
      HttpIncomingMessage.withMaxBodySize(Option.some(maxBytes)),
      Effect.mapError(() => tooLarge)
    )
  })

/** The body parsed as JSON, or `bad_json`. */
export const bodyJson = (request: HttpServerRequest.HttpServerRequest, maxBytes = 1024 * 1024) =>
  Effect.flatMap(
    bodyText(request, maxBytes, new HttpFailure({ code: "bad_request", message: `the body is limited to ${maxBytes} bytes` })),
    (text) => {
      try {
        return Effect.succeed(JSON.parse(text) as unknown)
      } catch (e) {
        return reject("bad_json", `the body is not JSON: ${(e as Error).message}`)
      }
    }
  )

/**
 * A value from the body: raw, or `{"value": "..."}` with `Content-Type: application/json`; within
 * the limits.
 */
export const bodyValue = (request: HttpServerRequest.HttpServerRequest, limits: Limits.Limits = Limits.defaults) =>
  Effect.gen(function*() {
    const tooLarge = new HttpFailure({ code: "value_too_large", message: `values are limited to ${limits.maxValueBytes} bytes` })
    const text = yield* bodyText(request, limits.maxValueBytes + 1024, tooLarge)
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
    const bad = Limits.checkValue(value, limits)
    return bad === undefined ? value : yield* Effect.fail(fromInvalid(bad))
  })

/**
 * Runs a forwarded request on one of `size` pooled clients, within `timeoutMs`: past it the caller
 * gets 503 `unavailable` (and the retries stop: everything a clerk does is interruptible). So does a
 * request the cluster refused to this node (`Unauthorized`: the nodes' security settings disagree).
 */
export const forwarding = <C, R>(acquire: Effect.Effect<C, never, R>, options: { readonly size: number; readonly timeoutMs: number }) =>
  Effect.map(Pool.make({ acquire, size: options.size }), (pool) => {
    const timeout = Duration.millis(options.timeoutMs)
    return <A, E>(f: (client: C) => Effect.Effect<A, E>): Effect.Effect<A, Exclude<E, Unauthorized> | HttpFailure> =>
      Effect.scoped(Effect.flatMap(Pool.get(pool), f)).pipe(
        Effect.catchAll((e): Effect.Effect<never, Exclude<E, Unauthorized> | HttpFailure> =>
          (e as { _tag?: unknown })._tag === "Unauthorized"
            ? reject("unavailable", `the cluster refused this node: ${(e as Unauthorized).message}`)
            : Effect.fail(e as Exclude<E, Unauthorized>)
        ),
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new HttpFailure({
              code: "unavailable",
              message: `no leader answered within ${Duration.format(timeout)}; the cluster may have lost its majority`
            })
        })
      )
  })

/** Where and how an API is served. */
export interface ServeOptions {
  readonly host: string
  /** 0 picks a free port. */
  readonly port: number
  readonly security?: Security
}

/** HTTPS and the client token of an API (see `authorized`). */
export interface Security {
  /** Serve HTTPS (node:https) with this certificate and key (PEM contents). */
  readonly tls?: { readonly cert: string | Uint8Array; readonly key: string | Uint8Array }
  /** Require `Authorization: Bearer <token>` on every `/v1/` request. */
  readonly token?: string
}

/** The paths served without the token: they hold no data (health, metrics, the status page). */
export const OPEN_PATHS: ReadonlySet<string> = new Set(["/", "/health", "/metrics"])

/**
 * `app` behind the client token: a request without `Authorization: Bearer <token>`, or with another
 * token, is answered 401 `unauthorized` (with `WWW-Authenticate: Bearer`) before `app` sees it, except
 * on `OPEN_PATHS`. The path is judged as the routes read it (`/./v1/kv/x` is `/v1/kv/x`): anything not
 * listed needs the token. The comparison takes the same time wherever the tokens differ; the token is
 * never logged or echoed.
 */
export const authorized = <E, R>(
  token: string,
  app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest>
): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    if (OPEN_PATHS.has(new URL(request.url, "http://localhost").pathname)) return app
    const header = Option.getOrUndefined(Headers.get(request.headers, "authorization"))
    const given = header !== undefined && /^Bearer /i.test(header) ? header.slice(7).trim() : undefined
    if (sameSecret(given, token)) return app
    const why = header === undefined
      ? "this server requires a token: send Authorization: Bearer <token>"
      : given === undefined
      ? "the Authorization header must be Bearer <token>"
      : "wrong token"
    return Effect.succeed(HttpServerResponse.setHeader(errorResponse("unauthorized", why), "www-authenticate", "Bearer"))
  })

/**
 * Routes a node serves beside its service's API on the same port (`/metrics`, `/health`, the status
 * page: see `ops/Node.ts`). When this service is in the context of `serve`, each request is offered to
 * it first; `undefined` passes the request on to the service's own routes.
 */
export class Mounted extends Context.Tag("concord/HttpKit/Mounted")<
  Mounted,
  (
    request: HttpServerRequest.HttpServerRequest
  ) => Effect.Effect<HttpServerResponse.HttpServerResponse, HttpFailure> | undefined
>() {}

/** `app` behind the `Mounted` routes in context, if any. */
const withMounted = (
  app: Effect.Effect<HttpServerResponse.HttpServerResponse, HttpFailure, HttpServerRequest.HttpServerRequest>
) =>
  Effect.map(Effect.serviceOption(Mounted), Option.match({
    onNone: () => app,
    onSome: (mounted) => Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => mounted(request) ?? app)
  }))

/** Serves `app` on `host:port` (0: any free port) in the current scope; the bound port. */
export const serve = (
  app: Effect.Effect<HttpServerResponse.HttpServerResponse, HttpFailure, HttpServerRequest.HttpServerRequest>,
  options: ServeOptions
): Effect.Effect<{ readonly port: number }, HttpServerError.ServeError, Scope.Scope> =>
  Effect.gen(function*() {
    // The token guards the mounted routes under /v1/ (the snapshot) as well as the service's own.
    const token = options.security?.token
    const mounted = yield* withMounted(app)
    const handled = (token === undefined ? mounted : authorized(token, mounted)).pipe(
      // @effect/platform runs a handler uninterruptibly (HttpApp.toHandled); a handler that waits on
      // a cluster must be interruptible, or its timeout never fires and a request whose caller has
      // hung up is retried forever.
      Effect.interruptible,
      Effect.catchTag("HttpFailure", (e) => Effect.succeed(errorResponse(e.code, e.message))),
      Effect.catchAllDefect((d) => Effect.logError("HTTP handler died", d).pipe(Effect.as(errorResponse("internal", "internal error"))))
    )
    const tls = options.security?.tls
    // An https.Server takes requests as an http.Server does (the platform only listens and reads them).
    const server = yield* NodeHttpServer.make(
      () => (tls === undefined ? createServer() : createHttpsServer({ cert: pemOf(tls.cert), key: pemOf(tls.key) }) as unknown as Server),
      { host: options.host, port: options.port }
    )
    yield* HttpServer.serveEffect(handled).pipe(Effect.provideService(HttpServer.HttpServer, server))
    const address = server.address
    return { port: address._tag === "TcpAddress" ? address.port : options.port }
  })

const pemOf = (x: string | Uint8Array): string | Buffer => (typeof x === "string" ? x : Buffer.from(x))
