/**
 * Flag parsing and error wording shared by the `concord` commands. Every numeric and enumerated flag is
 * parsed here, so that a bad value is one line naming the flag (`--clients must be at least 1, got 0`)
 * rather than @effect/cli's "'x' is not a integer", which names no flag.
 * @internal
 */
import { HelpDoc, Options, ValidationError } from "@effect/cli"
import type { PlatformError } from "@effect/platform/Error"
import { Duration, Effect, Option } from "effect"

/** Parses "10s", "500ms", "2m", "1h", or a bare number of seconds. */
export const parseDuration = (text: string): Option.Option<Duration.Duration> => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text)
  if (m === null) return Option.none()
  const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? "s") as "ms" | "s" | "m" | "h"]
  return Option.some(Duration.millis(Number(m[1]) * unitMs))
}

/** A flag-value error in @effect/cli's terms (printed as one line by `app.ts`; the process exits 3). */
export const invalid = (message: string) => Effect.fail(ValidationError.invalidValue(HelpDoc.p(message)))

/** A duration flag's value, or a one-line error naming the flag (`hint` suggests good values). */
export const durationValue = (name: string, text: string, hint = "try 10s, 500ms, 2m") =>
  Option.match(parseDuration(text), {
    onNone: () => invalid(`--${name}: "${text}" is not a duration (${hint})`),
    onSome: (d) => Effect.succeed(d)
  })

/** A duration flag with a default, documented with it; `positive`: 0 is refused. */
export const durationOption = (
  name: string,
  fallback: string,
  description: string,
  options?: { readonly positive?: boolean }
) =>
  Options.text(name).pipe(
    Options.withPseudoName("DURATION"),
    Options.withDefault(fallback),
    Options.mapEffect((text) =>
      Effect.flatMap(durationValue(name, text), (d) =>
        options?.positive === true && Duration.toMillis(d) <= 0
          ? invalid(`--${name} must be more than 0, got ${text}`)
          : Effect.succeed(d))
    ),
    Options.withDescription(`${description} (default ${fallback})`)
  )

/** An integer flag's value in [min, max], or a one-line error naming the flag. */
export const integerValue = (name: string, text: string, range: { readonly min?: number; readonly max?: number }) => {
  const n = Number(text.trim())
  if (!/^\s*-?\d+\s*$/.test(text) || !Number.isSafeInteger(n)) return invalid(`--${name}: "${text}" is not an integer`)
  const { max, min } = range
  if (min !== undefined && max !== undefined && (n < min || n > max)) {
    return invalid(`--${name} must be ${min} to ${max}, got ${n}`)
  }
  if (min !== undefined && n < min) return invalid(`--${name} must be at least ${min}, got ${n}`)
  if (max !== undefined && n > max) return invalid(`--${name} must be at most ${max}, got ${n}`)
  return Effect.succeed(n)
}

interface IntegerFlag {
  readonly min?: number
  readonly max?: number
  readonly description: string
  /** The value's name in help (default N). */
  readonly placeholder?: string
}

/** An integer flag with a range, and a default (documented) or none (`Option`). */
export function integerOption(name: string, o: IntegerFlag & { readonly fallback: number }): Options.Options<number>
export function integerOption(name: string, o: IntegerFlag): Options.Options<Option.Option<number>>
export function integerOption(
  name: string,
  o: IntegerFlag & { readonly fallback?: number }
): Options.Options<number> | Options.Options<Option.Option<number>> {
  const base = Options.text(name).pipe(Options.withPseudoName(o.placeholder ?? "N"))
  const parse = Options.mapEffect((text: string) => integerValue(name, text, o))
  return o.fallback === undefined
    ? base.pipe(parse, Options.optional, Options.withDescription(o.description))
    : base.pipe(
      Options.withDefault(String(o.fallback)),
      parse,
      Options.withDescription(`${o.description} (default ${o.fallback})`)
    )
}

/** A flag that takes one of `choices`, with a default; a bad value is one line listing them. */
export const choiceOption = <const C extends string>(
  name: string,
  choices: ReadonlyArray<C>,
  fallback: C,
  description: string
) =>
  Options.text(name).pipe(
    Options.withPseudoName(choices.join("|")),
    Options.withDefault(fallback),
    Options.mapEffect((text) =>
      (choices as ReadonlyArray<string>).includes(text)
        ? Effect.succeed(text as C)
        : invalid(`--${name}: "${text}" is not one of ${choices.join(", ")}`)
    ),
    Options.withDescription(`${description} (default ${fallback})`)
  )

/** A platform file error in a person's words. */
export const reason = (e: PlatformError): string =>
  e._tag === "SystemError" && e.reason === "NotFound"
    ? "no such file or directory"
    : e._tag === "SystemError" && e.reason === "PermissionDenied"
    ? "permission denied"
    : e.message
