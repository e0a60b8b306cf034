/**
 * Sessions: the duplicate table that makes a replicated service's writes execute exactly once
 * however often a client retries them (Raft thesis §6.3), shared by the key/value service, the shard
 * controller and the sharded key/value service (which keeps one table per shard and moves it with
 * the shard).
 *
 * Each client numbers its operations 1, 2, 3, ... and has at most one in flight (the clerks enforce
 * it), so remembering each client's last sequence number and that operation's reply is enough: a
 * command with that number is a retry (answer the remembered reply), a lower one is an old retry
 * whose client has long moved on (ignore it: nobody waits for its answer). The table is part of the
 * replicated state: it changes only by applying commands, travels in snapshots, and is therefore the
 * same on every replica.
 *
 * The table is bounded: past `limit` sessions the least recently used one is forgotten (a Map keeps
 * insertion order, and a use re-inserts), deterministically on every replica. A client silent for
 * that many other clients' writes that then retries an old write could see it applied twice; with
 * the default of 100,000 sessions that takes a client stalled through 100,000 others.
 * @since 0.1.0
 */
import { Either } from "effect"

export interface Session<R> {
  readonly seq: number
  readonly reply: R
}

/** Client id → its last operation. Mutated in place by `execute` (the state can be large). */
export type Sessions<R> = Map<number, Session<R>>

/** The default bound on the number of sessions kept. */
export const DEFAULT_LIMIT = 100_000

export const empty = <R>(): Sessions<R> => new Map()

/**
 * Runs `run` for operation `seq` of `clientId` unless it already ran: returns its reply (the
 * remembered one for a retry, `stale` for an operation older than the client's last).
 */
export const execute = <R>(
  sessions: Sessions<R>,
  clientId: number,
  seq: number,
  run: () => R,
  stale: R,
  limit = DEFAULT_LIMIT
): R => {
  const last = sessions.get(clientId)
  if (last !== undefined && seq <= last.seq) return seq === last.seq ? last.reply : stale
  const reply = run()
  record(sessions, clientId, seq, reply, limit)
  return reply
}

/** Whether operation `seq` of `clientId` has already been executed (or superseded). */
export const seen = <R>(sessions: Sessions<R>, clientId: number, seq: number): boolean => {
  const last = sessions.get(clientId)
  return last !== undefined && seq <= last.seq
}

/** Remembers `reply` as operation `seq` of `clientId`, the most recent use. */
export const record = <R>(sessions: Sessions<R>, clientId: number, seq: number, reply: R, limit = DEFAULT_LIMIT) => {
  sessions.delete(clientId)
  sessions.set(clientId, { seq, reply })
  while (sessions.size > limit) sessions.delete(sessions.keys().next().value!)
}

/**
 * Adds `from`'s sessions to `into`, keeping the later operation of a client found in both (the
 * sharded service merges the table of a shard it receives into its own).
 */
export const merge = <R>(into: Sessions<R>, from: Sessions<R>, limit = DEFAULT_LIMIT) => {
  for (const [clientId, s] of from) {
    const mine = into.get(clientId)
    if (mine === undefined || mine.seq < s.seq) record(into, clientId, s.seq, s.reply, limit)
  }
}

export const copy = <R>(sessions: Sessions<R>): Sessions<R> => new Map(sessions)

/** The table as `[clientId, seq, reply]` rows, least recently used first (for a snapshot). */
export const toRows = <R, E>(sessions: Sessions<R>, encodeReply: (reply: R) => E): Array<readonly [number, number, E]> => {
  const rows: Array<readonly [number, number, E]> = []
  for (const [clientId, s] of sessions) rows.push([clientId, s.seq, encodeReply(s.reply)])
  return rows
}

const isCount = (x: unknown): x is number => typeof x === "number" && Number.isSafeInteger(x) && x >= 0

/** Reads rows written by `toRows` back; `decodeReply` returns undefined for a malformed reply. */
export const fromRows = <R>(rows: unknown, decodeReply: (encoded: unknown) => R | undefined): Either.Either<Sessions<R>, string> => {
  if (!Array.isArray(rows)) return Either.left("the duplicate table is not a list")
  const sessions: Sessions<R> = new Map()
  for (const row of rows as Array<unknown>) {
    const reply = Array.isArray(row) && row.length === 3 ? decodeReply(row[2]) : undefined
    if (!Array.isArray(row) || !isCount(row[0]) || !isCount(row[1]) || reply === undefined) {
      return Either.left(`duplicate table row ${sessions.size}: expected [clientId, seq, reply]`)
    }
    sessions.set(row[0], { seq: row[1], reply })
  }
  return Either.right(sessions)
}
