/**
 * The console of a local-cluster launcher (`cluster up`, `shard up`): child processes' lines, held
 * back until the banner is out so that it comes first, and one status line kept at the bottom of a
 * terminal (redrawn in place) or printed when it changes (anything else).
 * @internal
 */

export const makeConsole = () => {
  const tty = process.stdout.isTTY === true
  let statusLine = ""
  let last = ""
  let held: Array<string> | undefined = []
  const print = (line: string) => {
    if (held !== undefined) return void held.push(line)
    if (tty && statusLine !== "") process.stdout.write("\r\x1b[2K")
    process.stdout.write(line + "\n")
    if (tty && statusLine !== "") process.stdout.write(statusLine)
  }
  return {
    print,
    /** Prints what was held back (after the banner). */
    release: () => {
      const early = held ?? []
      held = undefined
      early.forEach(print)
    },
    /** What the children said before a failure explains it: print it as is. */
    dump: () => held?.forEach((line) => console.log(line)),
    /** Shows `line` as the status. */
    status: (line: string) => {
      if (tty) {
        statusLine = `status: ${line}`
        process.stdout.write(`\r\x1b[2K${statusLine}`)
      } else if (line !== last) {
        console.log(`status: ${line}`)
      }
      last = line
    },
    /** Ends the status line (before the launcher's last words). */
    end: () => {
      if (tty) process.stdout.write("\n")
    }
  }
}
