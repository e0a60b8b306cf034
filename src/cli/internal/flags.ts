/**
 * Flag parsing and error wording shared by the `concord` subcommands.
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

/** A flag-value error in @effect/cli's terms (printed by it; the process exits 3). */
export const invalid = (message: string) => Effect.fail(ValidationError.invalidValue(HelpDoc.p(message)))

/** A duration flag's value, or a one-line error naming the flag (`hint` suggests good values). */
export const durationValue = (name: string, text: string, hint = "try 10s, 500ms, 2m") =>
  Option.match(parseDuration(text), {
    onNone: () => invalid(`--${name}: "${text}" is not a duration (${hint})`),
    onSome: (d) => Effect.succeed(d)
  })

/** A duration flag with a default, documented with it. */
export const durationOption = (name: string, fallback: string, description: string) =>
  Options.text(name).pipe(
    Options.withDefault(fallback),
    Options.mapEffect((text) => durationValue(name, text)),
    Options.withDescription(`${description} (default ${fallback})`)
  )

/** A platform file error in a person's words. */
export const reason = (e: PlatformError): string =>
  e._tag === "SystemError" && e.reason === "NotFound"
    ? "no such file or directory"
    : e._tag === "SystemError" && e.reason === "PermissionDenied"
    ? "permission denied"
    : e.message
