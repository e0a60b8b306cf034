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
import { createServer } from "node:http"
import * as Limits from "../kv/Limits.js"
import type { InvalidRequest } from "../replica/Messages.js"

/** The stable error codes. */
export type Code =
  | "bad_request"
  | "bad_json"
  | "key_too_large"
  | "value_too_large"
  | "not_found"
  | "method_not_allowed"
  | "unavailable"
  | "internal"

export const STATUS: Record<Code, number> = {
  bad_request: 400,
  bad_json: 400,
  key_too_large: 414,
  value_too_large: 413,
  not_found: 404,
  method_not_allowed: 405,
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
 * gets 503 `unavailable` (and the retries stop: everything a clerk does is interruptible).
 */
export const forwarding = <C, R>(acquire: Effect.Effect<C, never, R>, options: { readonly size: number; readonly timeoutMs: number }) =>
  Effect.map(Pool.make({ acquire, size: options.size }), (pool) => {
    const timeout = Duration.millis(options.timeoutMs)
    return <A, E>(f: (client: C) => Effect.Effect<A, E>): Effect.Effect<A, E | HttpFailure> =>
      Effect.scoped(Effect.flatMap(Pool.get(pool), f)).pipe(
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
  options: { readonly host: string; readonly port: number }
): Effect.Effect<{ readonly port: number }, HttpServerError.ServeError, Scope.Scope> =>
  Effect.gen(function*() {
    const handled = (yield* withMounted(app)).pipe(
      // @effect/platform runs a handler uninterruptibly (HttpApp.toHandled); a handler that waits on
      // a cluster must be interruptible, or its timeout never fires and a request whose caller has
      // hung up is retried forever.
      Effect.interruptible,
      Effect.catchTag("HttpFailure", (e) => Effect.succeed(errorResponse(e.code, e.message))),
      Effect.catchAllDefect((d) => Effect.logError("HTTP handler died", d).pipe(Effect.as(errorResponse("internal", "internal error"))))
    )
    const server = yield* NodeHttpServer.make(() => createServer(), { host: options.host, port: options.port })
    yield* HttpServer.serveEffect(handled).pipe(Effect.provideService(HttpServer.HttpServer, server))
    const address = server.address
    return { port: address._tag === "TcpAddress" ? address.port : options.port }
  })
