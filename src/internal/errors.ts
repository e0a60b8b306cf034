/**
 * Helpers for errors that are part of normal control flow.
 * @internal
 */

/**
 * Constructs an expected error (a `NotLeader`, a lost simulated RPC) without capturing a stack trace.
 * V8 spends most of an Error's construction (4-5 µs of 5) walking the stack, and nobody reads the
 * stack of an error that says "try another node"; a busy simulation makes hundreds of thousands.
 */
export const withoutStack = <A>(make: () => A): A => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return make()
  } finally {
    Error.stackTraceLimit = limit
  }
}
