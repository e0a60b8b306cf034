/**
 * The part of RPC both transports share: request and reply encoding, and server-side dispatch of a
 * request to the handler registered for its tag.
 *
 * A request is the packed Schema encoding of the request object (it carries its `_tag`). A reply is a
 * packed pair `[status, payload]`:
 *   0 = success (payload: the success, encoded), 1 = typed failure (payload: the failure, encoded),
 *   2 = the handler died (payload: a description), 3 = protocol error (unknown tag, undecodable),
 *   4 = not authorized (payload: why; the handler never ran).
 * @internal
 */
import { Cause, Effect, Either, Exit, type Fiber, FiberId, Schema, type Scope } from "effect"
import * as Codec from "../../codec/Codec.js"
import {
  type AnyRequest,
  type Failure,
  type Handlers,
  type NodeId,
  type Protocol,
  type RequestClass,
  type Success,
  type ServeOptions,
  TransportError
} from "../Transport.js"
import * as Watcher from "./watcher.js"

const enum Status {
  Success = 0,
  Failure = 1,
  Defect = 2,
  Protocol = 3,
  Unauthorized = 4
}

interface ClassCodecs {
  readonly request: Codec.Codec<any>
  readonly success: Codec.Codec<any>
  readonly failure: Codec.Codec<any>
}

const classCodecs = new WeakMap<object, ClassCodecs>()

const codecsOfClass = (cls: RequestClass<any>): ClassCodecs => {
  let c = classCodecs.get(cls)
  if (c === undefined) {
    c = {
      request: Codec.make(cls, `request ${cls._tag}`),
      success: Codec.make(cls.success as Schema.Schema<any, any, never>, `reply to ${cls._tag}`),
      failure: Codec.make(cls.failure as Schema.Schema<any, any, never>, `error reply to ${cls._tag}`)
    }
    classCodecs.set(cls, c)
  }
  return c
}

const codecsOf = (request: AnyRequest): ClassCodecs =>
  codecsOfClass((request as any)[Schema.symbolSerializable] as RequestClass<any>)

/** Encodes a request for the wire. */
export const encodeRequest = (request: AnyRequest): Uint8Array => codecsOf(request).request.encode(request)

/** Decodes a reply to `request` received from `peer` into the call's result. */
export const decodeReply = <Req extends AnyRequest>(
  request: Req,
  peer: NodeId,
  bytes: Uint8Array
): Effect.Effect<Success<Req>, Failure<Req> | TransportError> => {
  const unpacked = Codec.unpack(bytes, "reply")
  if (Either.isLeft(unpacked)) return protocolError(peer, unpacked.left.message)
  const reply = unpacked.right
  if (!Array.isArray(reply) || reply.length !== 2) return protocolError(peer, "malformed reply envelope")
  const [status, payload] = reply as [number, unknown]
  const codecs = codecsOf(request)
  switch (status) {
    case Status.Success: {
      const v = codecs.success.decodePlain(payload)
      return Either.isRight(v) ? Effect.succeed(v.right) : protocolError(peer, v.left.message)
    }
    case Status.Failure: {
      const v = codecs.failure.decodePlain(payload)
      return Either.isRight(v) ? Effect.fail(v.right) : protocolError(peer, v.left.message)
    }
    case Status.Defect:
      return Effect.fail(new TransportError({ reason: "Remote", peer, detail: String(payload) }))
    case Status.Unauthorized:
      return Effect.fail(new TransportError({ reason: "Unauthorized", peer, detail: String(payload) }))
    default:
      return protocolError(peer, String(payload))
  }
}

const protocolError = (peer: NodeId, detail: string) =>
  Effect.fail(new TransportError({ reason: "Protocol", peer, detail }))

const protocolReply = (detail: string) => Codec.pack([Status.Protocol, detail])

type RunFork = <A>(effect: Effect.Effect<A, never, any>) => Fiber.RuntimeFiber<A, never>

interface Entry {
  readonly decode: (plain: unknown) => Either.Either<any, Codec.DecodeError>
  readonly run: (request: any) => Effect.Effect<Uint8Array>
  readonly fork: RunFork
  /** The protocol's deadline: its watcher, and the encoded reply of a request past it (undefined: exempt). */
  readonly deadline:
    | { readonly watcher: Watcher.Watcher; readonly reply: (request: any) => Uint8Array | undefined }
    | undefined
}

/**
 * A request whose handler was started. `observe` is told its outcome once: the reply (the handler's
 * answer, or the deadline's), or a failed exit if the handler stopped without one (interrupted: its
 * server is stopping). Call `observe` at once: the request's deadline runs from that call.
 */
export interface Started {
  readonly observe: (onExit: (exit: Exit.Exit<Uint8Array>) => void) => void
}

/**
 * The handlers a node currently serves, by request tag. `dispatch` decodes one request and starts its
 * handler in a fiber of the scope that registered it (so a crashed node's handlers are interrupted).
 */
export class Dispatcher {
  private readonly entries = new Map<string, Entry>()

  /** Number of tags served. */
  get size(): number {
    return this.entries.size
  }

  /**
   * Registers `handlers` for `protocol` until the current scope closes; with `options.deadline`, a
   * watcher in that scope answers the requests past it.
   */
  register<Req extends AnyRequest, R>(
    protocol: Protocol<Req>,
    handlers: Handlers<Req, R>,
    fork: RunFork,
    options?: ServeOptions<Req>
  ): Effect.Effect<void, never, Scope.Scope> {
    const deadline = options?.deadline
    // The watcher is made outside the acquisition, which is uninterruptible (a fiber forked there would be too).
    return Effect.flatMap(deadline === undefined ? Effect.succeed(undefined) : Watcher.make(deadline.ms), (watcher) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          const tags: Array<string> = []
          for (const cls of protocol.classes) {
            if (this.entries.has(cls._tag)) {
              throw new Error(`request tag ${cls._tag} of protocol ${protocol.name} is already served`)
            }
            const codecs = codecsOfClass(cls)
            const handler = (handlers as any)[cls._tag] as (r: any) => Effect.Effect<any, any, R>
            this.entries.set(cls._tag, {
              decode: codecs.request.decodePlain,
              fork,
              deadline: watcher === undefined || deadline === undefined ? undefined : {
                watcher,
                reply: (request) => {
                  const failure = deadline.onTimeout(request)
                  return failure === undefined ? undefined : Codec.pack([Status.Failure, codecs.failure.encodePlain(failure)])
                }
              },
              run: (request) =>
                Effect.matchCauseEffect(handler(request) as Effect.Effect<any, any>, {
                  onSuccess: (value) => Effect.succeed(Codec.pack([Status.Success, codecs.success.encodePlain(value)])),
                  onFailure: (cause) => {
                    const failure = Cause.failureOption(cause)
                    if (failure._tag === "Some") {
                      return Effect.succeed(Codec.pack([Status.Failure, codecs.failure.encodePlain(failure.value)]))
                    }
                    if (Cause.isInterruptedOnly(cause)) return Effect.interrupt
                    return Effect.logError(`handler of ${cls._tag} died`, cause).pipe(
                      Effect.as(Codec.pack([Status.Defect, `handler of ${cls._tag} died: ${Cause.squash(cause)}`]))
                    )
                  }
                })
            })
            tags.push(cls._tag)
          }
          return tags
        }),
        (tags) => Effect.sync(() => tags.forEach((t) => this.entries.delete(t)))
      )
    ).pipe(Effect.asVoid)
  }

  /**
   * Starts the handler of one encoded request. Returns the reply at once for a request that cannot be
   * dispatched (protocol error, or refused: `refuse` gives a reason for the request's tag), or the
   * fiber computing the reply.
   */
  dispatch(
    bytes: Uint8Array,
    refuse?: (tag: string) => string | undefined
  ): Uint8Array | Started {
    const unpacked = Codec.unpack(bytes, "request")
    if (Either.isLeft(unpacked)) return protocolReply(unpacked.left.message)
    const plain = unpacked.right as { readonly _tag?: unknown } | null
    const tag = plain !== null && typeof plain === "object" ? plain._tag : undefined
    const entry = typeof tag === "string" ? this.entries.get(tag) : undefined
    if (entry === undefined) return protocolReply(`unknown method ${String(tag)}`)
    const refused = refuse?.(tag as string)
    if (refused !== undefined) return Codec.pack([Status.Unauthorized, refused])
    const request = entry.decode(plain)
    if (Either.isLeft(request)) return protocolReply(request.left.message)
    const fiber = entry.fork(entry.run(request.right))
    const deadline = entry.deadline
    if (deadline === undefined) return { observe: (onExit) => fiber.addObserver(onExit) }
    const { watcher } = deadline
    return {
      observe: (onExit) => {
        const ticket = watcher.add(() => {
          const reply = deadline.reply(request.right)
          if (reply === undefined) return void fiber.addObserver(onExit)
          onExit(Exit.succeed(reply))
          fiber.unsafeInterruptAsFork(FiberId.none)
        })
        fiber.addObserver((exit) => {
          if (watcher.remove(ticket)) onExit(exit)
        })
      }
    }
  }
}
