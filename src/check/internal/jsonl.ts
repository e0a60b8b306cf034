/**
 * JSON Lines histories, the `concord check` file format: one operation per line, a JSON object with
 * `client` (an integer), `call` and `return` (numbers; `return` null or absent: never returned) and the
 * model's own fields, among them `output` (absent for an operation that never returned). Blank lines
 * and unknown fields are ignored. Each model describes its fields and how they make an operation
 * (`LineFormat`); reading, the times and the error messages are shared here.
 * @internal
 */
import { Either, ParseResult, Schema } from "effect"
import type { History, Operation } from "../History.js"

/** A line of a JSONL history that is not a valid operation (`line` counts from 1). */
export class JsonlError extends Schema.TaggedError<JsonlError>()("JsonlError", {
  line: Schema.Number,
  reason: Schema.String
}) {
  override get message() {
    return `line ${this.line}: ${this.reason}`
  }
}

/** `schema`, whose failures read "must be <what>, not <the value>". */
export const must = <S extends Schema.Schema.Any>(schema: S, what: string): S =>
  schema.annotations({
    message: (issue) => ({
      message: `must be ${what}, not ${JSON.stringify(issue.actual) ?? "undefined"}`,
      override: true
    })
  }) as S

const common = {
  client: must(Schema.Int, "an integer"),
  call: must(Schema.Finite, "a number"),
  return: Schema.optional(must(Schema.NullOr(Schema.Finite), "a number or null"))
}

/** The operation a line describes, or why it is not one. */
export type LineOperation<I, O> = Either.Either<{ readonly input: I; readonly output: O | undefined }, string>

/** A model's part of a line: its fields (with `output`), and the operation they describe. */
export interface LineFormat<F extends Schema.Struct.Fields & { readonly output: Schema.Struct.Field }, I, O> {
  readonly fields: F
  /** The operation of a decoded line, or why the line is not one. `returned`: it has a return time. */
  readonly operation: (line: Schema.Struct.Type<F>, returned: boolean) => LineOperation<I, O>
}

// JSON numbers are doubles: nanoseconds since the epoch (about 1.7e18) are not exact. The exact digits
// are read back from the text for such values and every time is rebased on the earliest call, which
// keeps the order exact for any span under 104 days of nanoseconds.
const exactTime = (text: string, field: "call" | "return"): bigint | undefined => {
  const m = new RegExp(`"${field}"\\s*:\\s*(-?\\d+)\\s*[,}]`).exec(text)
  return m === null ? undefined : BigInt(m[1]!)
}

const isHuge = (t: number) => Math.abs(t) > Number.MAX_SAFE_INTEGER

type Exact = { readonly call: bigint; readonly return: bigint | undefined } | undefined

const rebase = <I, O>(ops: ReadonlyArray<Operation<I, O>>, exact: ReadonlyArray<Exact>): Array<Operation<I, O>> => {
  const exactOf = (i: number) => {
    const op = ops[i]!
    return exact[i] ?? {
      call: BigInt(Math.round(op.call)),
      return: op.return == null ? undefined : BigInt(Math.round(op.return))
    }
  }
  let base = exactOf(0).call
  for (let i = 1; i < ops.length; i++) if (exactOf(i).call < base) base = exactOf(i).call
  return ops.map((op, i) => {
    const t = exactOf(i)
    return { ...op, call: Number(t.call - base), return: t.return === undefined ? undefined : Number(t.return - base) }
  })
}

/** A decoder of JSONL histories in `format`. */
export const decoder = <F extends Schema.Struct.Fields & { readonly output: Schema.Struct.Field }, I, O>(
  format: LineFormat<F, I, O>
) => {
  // The model's fields are context-free schemas; the generic struct type cannot say so.
  const line = Schema.Struct({ ...common, ...format.fields }) as unknown as Schema.Schema<Record<string, unknown>>
  const decodeLine = Schema.decodeUnknownEither(line, { onExcessProperty: "ignore" })
  return (text: string): Either.Either<History<I, O>, JsonlError> => {
    const ops: Array<Operation<I, O>> = []
    const exact: Array<Exact> = []
    const lineOf: Array<number> = []
    let unsafe = false
    const lines = text.split("\n")
    for (let n = 0; n < lines.length; n++) {
      const raw = lines[n]!.trim()
      if (raw === "") continue
      const fail = (reason: string) => Either.left(new JsonlError({ line: n + 1, reason }))
      let json: unknown
      try {
        json = JSON.parse(raw)
      } catch (e) {
        return fail(`not valid JSON (${(e as Error).message})`)
      }
      if (typeof json !== "object" || json === null || Array.isArray(json)) return fail("not a JSON object")
      const decoded = decodeLine(json)
      if (Either.isLeft(decoded)) {
        const issue = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)[0]
        if (issue === undefined) return fail("not an operation")
        const field = `"${issue.path.join(".")}"`
        return fail(issue.message === "is missing" ? `${field} is missing` : `${field}: ${issue.message}`)
      }
      const l = decoded.right as unknown as Schema.Struct.Type<typeof common> & { readonly output?: unknown }
      const pending = l.return === undefined || l.return === null
      if (pending && l.output !== undefined) return fail(`"output" given for an operation that never returned`)
      const op = format.operation(decoded.right as unknown as Schema.Struct.Type<F>, !pending)
      if (Either.isLeft(op)) return fail(op.left)
      const { input, output } = op.right
      ops.push({
        clientId: l.client,
        input,
        output: pending ? undefined : output,
        call: l.call,
        return: pending ? undefined : l.return!
      })
      lineOf.push(n + 1)
      const huge = isHuge(l.call) || (!pending && isHuge(l.return!))
      unsafe ||= huge
      exact.push(
        huge
          ? {
            call: exactTime(raw, "call") ?? BigInt(l.call),
            return: pending ? undefined : exactTime(raw, "return") ?? BigInt(l.return!)
          }
          : undefined
      )
    }
    const rebased = unsafe ? rebase(ops, exact) : ops
    for (let i = 0; i < rebased.length; i++) {
      const op = rebased[i]!
      if (op.return != null && op.return < op.call) {
        const raw = ops[i]!
        const reason = `"return" (${raw.return}) is before "call" (${raw.call})`
        return Either.left(new JsonlError({ line: lineOf[i]!, reason }))
      }
    }
    return Either.right(rebased)
  }
}
