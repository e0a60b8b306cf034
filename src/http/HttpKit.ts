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
import { Context, Data, Duration, Effect, Exit, FiberId, FiberSet, Runtime, type Scope } from "effect"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { createServer as createHttpsServer } from "node:https"
import type { Socket } from "node:net"
import * as Limits from "../kv/Limits.js"
import type { Unauthorized } from "../replica/Clerk.js"
import * as Deadlines from "../replica/Deadlines.js"
import * as Watcher from "../rpc/internal/watcher.js"
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

/**
 * An HTTP request as the routes see it: the method, the URL as sent (path and query), the headers
 * (lower-case names), and the body on demand.
 */
export interface RequestShape {
  readonly method: string
  readonly url: string
  readonly header: (name: string) => string | undefined
  /** The body as UTF-8 text; fails with `tooLarge()` past `maxBytes` (by its declared length, or as it arrives). */
  readonly text: (maxBytes: number, tooLarge: () => HttpFailure) => Effect.Effect<string, HttpFailure>
}

/** The request being answered, in the context of every route `serve` runs. */
export class Request extends Context.Tag("concord/HttpKit/Request")<Request, RequestShape>() {}

/** A response: status, content type, body, and any other headers. */
export interface Response {
  readonly status: number
  readonly contentType: string
  readonly body: string | Uint8Array
  readonly headers?: Readonly<Record<string, string>>
}

/** A text response (UTF-8). */
export const text = (body: string, options: { readonly status?: number; readonly contentType?: string } = {}): Response => ({
  status: options.status ?? 200,
  contentType: options.contentType ?? "text/plain; charset=utf-8",
  body
})

/** A binary response. */
export const bytes = (
  body: Uint8Array,
  options: { readonly contentType?: string; readonly headers?: Readonly<Record<string, string>> } = {}
): Response => ({
  status: 200,
  contentType: options.contentType ?? "application/octet-stream",
  body,
  ...(options.headers === undefined ? {} : { headers: options.headers })
})

/** A request answered with an error response. */
export class HttpFailure extends Data.TaggedError("HttpFailure")<{ readonly code: Code; readonly message: string }> {}

export const reject = (code: Code, message: string) => Effect.fail(new HttpFailure({ code, message }))

/** A request refused as it stands, in HTTP terms (same codes). */
export const fromInvalid = (e: InvalidRequest) => new HttpFailure({ code: e.code, message: e.reason })

/** A JSON response; the body ends with a newline. */
export const json = (body: unknown, status = 200): Response =>
  text(JSON.stringify(body) + "\n", { status, contentType: "application/json" })

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
export const identity = (request: RequestShape) =>
  Effect.gen(function*() {
    const id = request.header("x-client-id")
    const seq = request.header("x-request-seq")
    if (id === undefined && seq === undefined) return undefined
    if (id === undefined || seq === undefined) {
      return yield* reject("bad_request", "send both X-Client-Id and X-Request-Seq, or neither")
    }
    return {
      clientId: yield* integer("X-Client-Id", id, 0, MAX_CLIENT_ID),
      seq: yield* integer("X-Request-Seq", seq, 1, Number.MAX_SAFE_INTEGER)
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

/** The body parsed as JSON, or `bad_json`. */
export const bodyJson = (request: RequestShape, maxBytes = 1024 * 1024) =>
  Effect.flatMap(
    request.text(maxBytes, () => new HttpFailure({ code: "bad_request", message: `the body is limited to ${maxBytes} bytes` })),
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
export const bodyValue = (request: RequestShape, limits: Limits.Limits = Limits.defaults) =>
  Effect.gen(function*() {
    const tooLarge = () => new HttpFailure({ code: "value_too_large", message: `values are limited to ${limits.maxValueBytes} bytes` })
    const text = yield* request.text(limits.maxValueBytes + 1024, tooLarge)
    let value = text
    const type = request.header("content-type") ?? ""
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
 *
 * Clients are made on first need, up to `size`; a request that finds none free waits for one (in
 * arrival order). The pool is a free list and the timeout a `Deadlines` watcher: `Pool.get` under
 * `Effect.scoped` and `Effect.timeoutFail` cost about as much per request as the forwarded put.
 */
export const forwarding = <C, R>(acquire: Effect.Effect<C, never, R>, options: { readonly size: number; readonly timeoutMs: number }) =>
  Effect.gen(function*() {
    const context = yield* Effect.context<R>()
    const timeout = Duration.millis(options.timeoutMs)
    const message = `no leader answered within ${Duration.format(timeout)}; the cluster may have lost its majority`
    const watcher = yield* Watcher.make(options.timeoutMs)
    const forked = Deadlines.withWatcher(watcher, () => new HttpFailure({ code: "unavailable", message }))
    // Inside `serve`, an overdue request is answered 503 at once and its fiber interrupted: no fiber
    // forked per request (which measured about a third of the CPU per request on the binary path).
    // Elsewhere (a caller of its own), the forked deadline.
    const withDeadline = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E | HttpFailure> =>
      Effect.flatMap(Effect.serviceOption(Request), (request) => {
        if (request._tag === "None" || !(request.value instanceof NodeRequest)) return forked(effect)
        const served = request.value
        return Effect.withFiberRuntime<A, E>((fiber) => {
          const ticket = watcher.add(() => {
            if (served.answerNow(errorResponse("unavailable", message))) fiber.unsafeInterruptAsFork(FiberId.none)
          })
          return Effect.ensuring(effect, Effect.sync(() => void watcher.remove(ticket)))
        })
      })
    const free: Array<C> = []
    const waiting: Array<(client: C) => void> = []
    let made = 0
    const take: Effect.Effect<C> = Effect.suspend(() => {
      const client = free.pop()
      if (client !== undefined) return Effect.succeed(client)
      if (made < options.size) {
        made++
        // A client that could not be made frees its slot.
        return Effect.onExit(Effect.provide(acquire, context), (exit) => Effect.sync(() => void (exit._tag === "Failure" && made--)))
      }
      return Effect.async<C>((resume) => {
        let handed: { readonly client: C } | undefined
        const give = (c: C) => {
          handed = { client: c }
          resume(Effect.succeed(c))
        }
        waiting.push(give)
        return Effect.sync(() => {
          const i = waiting.indexOf(give)
          if (i >= 0) waiting.splice(i, 1)
          // Interrupted just as a client was handed over (the resume lost to the interruption): pass
          // it on, or it would be gone from the pool for good.
          else if (handed !== undefined) giveBack(handed.client)
        })
      })
    })
    const giveBack = (client: C) => {
      const next = waiting.shift()
      if (next !== undefined) next(client)
      else free.push(client)
    }
    const release = (client: C) => Effect.sync(() => giveBack(client))
    return <A, E>(f: (client: C) => Effect.Effect<A, E>): Effect.Effect<A, Exclude<E, Unauthorized> | HttpFailure> =>
      withDeadline(
        Effect.uninterruptibleMask((restore) =>
          Effect.flatMap(restore(take), (client) => Effect.ensuring(restore(f(client)), release(client)))
        )
      ).pipe(
        Effect.catchAll((e): Effect.Effect<never, Exclude<E, Unauthorized> | HttpFailure> =>
          (e as { _tag?: unknown })._tag === "Unauthorized"
            ? reject("unavailable", `the cluster refused this node: ${(e as Unauthorized).message}`)
            : Effect.fail(e as Exclude<E, Unauthorized>)
        )
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
  app: Effect.Effect<Response, E, R | Request>
): Effect.Effect<Response, E, R | Request> =>
  Effect.flatMap(Request, (request) => {
    if (OPEN_PATHS.has(new URL(request.url, "http://localhost").pathname)) return app
    const header = request.header("authorization")
    const given = header !== undefined && /^Bearer /i.test(header) ? header.slice(7).trim() : undefined
    if (sameSecret(given, token)) return app
    const why = header === undefined
      ? "this server requires a token: send Authorization: Bearer <token>"
      : given === undefined
      ? "the Authorization header must be Bearer <token>"
      : "wrong token"
    return Effect.succeed({ ...errorResponse("unauthorized", why), headers: { "www-authenticate": "Bearer" } })
  })

/**
 * Routes a node serves beside its service's API on the same port (`/metrics`, `/health`, the status
 * page: see `ops/Node.ts`). When this service is in the context of `serve`, each request is offered to
 * it first; `undefined` passes the request on to the service's own routes.
 */
export class Mounted extends Context.Tag("concord/HttpKit/Mounted")<
  Mounted,
  (request: RequestShape) => Effect.Effect<Response, HttpFailure> | undefined
>() {}

/** One node:http request seen through `RequestShape`. */
class NodeRequest implements RequestShape {
  constructor(private readonly req: IncomingMessage, private readonly res: ServerResponse) {}

  /** Answers at once, unless an answer has gone already; the handler's own answer is then dropped. */
  answerNow(response: Response): boolean {
    if (this.res.headersSent || this.res.destroyed) return false
    send(this.res, response)
    return true
  }

  get method() {
    return this.req.method ?? "GET"
  }

  get url() {
    return this.req.url ?? "/"
  }

  header(name: string): string | undefined {
    const v = this.req.headers[name]
    return Array.isArray(v) ? v.join(", ") : v
  }

  text(maxBytes: number, tooLarge: () => HttpFailure): Effect.Effect<string, HttpFailure> {
    const req = this.req
    // Refusing before reading: answering mid-upload resets the connection. (A chunked body without a
    // length is cut off by the size limit as it arrives instead.)
    const declared = Number(req.headers["content-length"])
    if (declared > maxBytes) return Effect.fail(tooLarge())
    return Effect.async<string, HttpFailure>((resume) => {
      const chunks: Array<Buffer> = []
      let size = 0
      const off = () => {
        req.off("data", onData)
        req.off("end", onEnd)
        req.off("error", onError)
        req.off("aborted", onAborted)
      }
      const onData = (chunk: Buffer) => {
        size += chunk.length
        if (size > maxBytes) {
          off()
          resume(Effect.fail(tooLarge()))
          return
        }
        chunks.push(chunk)
      }
      const onEnd = () => {
        off()
        resume(Effect.succeed(chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8")))
      }
      const onError = (e: Error) => {
        off()
        resume(reject("bad_request", `the body could not be read: ${e.message}`))
      }
      const onAborted = () => onError(new Error("the client hung up"))
      req.on("data", onData)
      req.on("end", onEnd)
      req.on("error", onError)
      req.on("aborted", onAborted)
      return Effect.sync(off)
    })
  }
}

const send = (res: ServerResponse, response: Response) => {
  if (res.headersSent || res.destroyed) return
  const body = typeof response.body === "string" ? Buffer.from(response.body, "utf8") : response.body
  res.writeHead(response.status, {
    ...response.headers,
    "content-type": response.contentType,
    "content-length": body.length
  })
  res.end(body)
}

/** Serves `app` on `host:port` (0: any free port) in the current scope; the bound port. */
export const serve = (
  app: Effect.Effect<Response, HttpFailure, Request>,
  options: ServeOptions
): Effect.Effect<{ readonly port: number }, ServeError, Scope.Scope> =>
  Effect.gen(function*() {
    // The token guards the mounted routes under /v1/ (the snapshot) as well as the service's own.
    const token = options.security?.token
    const mounted = yield* Effect.serviceOption(Mounted)
    const routed = mounted._tag === "None" ? app : Effect.flatMap(Request, (request) => mounted.value(request) ?? app)
    const handled = (token === undefined ? routed : authorized(token, routed)).pipe(
      Effect.catchTag("HttpFailure", (e) => Effect.succeed(errorResponse(e.code, e.message))),
      Effect.catchAllDefect((d) => Effect.logError("HTTP handler died", d).pipe(Effect.as(errorResponse("internal", "internal error"))))
    )
    const runLog = Runtime.runFork(yield* Effect.runtime<never>())
    // Request fibers belong to the serve scope: closing it interrupts those still running (after the
    // server and its sockets are closed: finalizers run last-added first).
    const runFork = yield* FiberSet.makeRuntime<never, Response, never>()
    const tls = options.security?.tls
    // node:http directly: @effect/platform's server measured ~100 µs of CPU per request on top of
    // node:http's ~17 (fibers, spans, its request and response wrappers), more than a forwarded put.
    const server: Server = tls === undefined
      ? createServer()
      : createHttpsServer({ cert: pemOf(tls.cert), key: pemOf(tls.key) }) as unknown as Server
    const sockets = new Set<Socket>()
    server.on("connection", (socket: Socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
    })
    server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      const request = new NodeRequest(req, res)
      const fiber = runFork(Effect.provideService(handled, Request, request))
      fiber.addObserver((exit) => {
        if (Exit.isSuccess(exit)) send(res, exit.value)
        else if (!res.headersSent && !res.destroyed) res.destroy()
      })
      // A caller that hangs up stops its request (a forwarded write stops retrying).
      res.on("close", () => {
        if (!res.writableFinished) fiber.unsafeInterruptAsFork(FiberId.none)
      })
    })
    server.on("clientError", (_err: Error, socket: Socket) => {
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n")
      else socket.destroy()
    })
    const port = yield* Effect.async<number, ServeError>((resume) => {
      const onError = (err: NodeJS.ErrnoException) =>
        resume(Effect.fail(
          new ServeError({
            host: options.host,
            port: options.port,
            detail: err.code === "EADDRINUSE" ? "address already in use" : err.message
          })
        ))
      server.once("error", onError)
      server.listen(options.port, options.host, () => {
        server.off("error", onError)
        const address = server.address()
        resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : options.port))
      })
    })
    server.on("error", (err) => runLog(Effect.logError(`HTTP server on ${options.host}:${port}: ${err.message}`)))
    yield* Effect.addFinalizer(() =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        for (const s of sockets) s.destroy()
      })
    )
    return { port }
  })

/** The HTTP server could not listen. */
export class ServeError extends Data.TaggedError("ServeError")<{ readonly host: string; readonly port: number; readonly detail: string }> {
  override get message() {
    return `cannot serve HTTP on ${this.host}:${this.port}: ${this.detail}`
  }
}

const pemOf = (x: string | Uint8Array): string | Buffer => (typeof x === "string" ? x : Buffer.from(x))
