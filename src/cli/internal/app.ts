/**
 * The `concord` command line: @effect/cli parses it and runs the command, and this module gives every
 * command one style of help and errors.
 *
 * - Help (`--help`, `-h`, or a command group given no command) is rendered here from the commands'
 *   own descriptions: usage lines that read `concord kv put …`, the options each command has (the
 *   built-in `--wizard`, `--completions` and `--log-level` are left out; they still work), and
 *   colour only when stdout is a terminal and `NO_COLOR` is unset.
 * - Errors in the command line are one line on stderr, `concord <command>: <what is wrong> (see
 *   concord <command> --help)`, exit 3. Unknown options and commands are caught here, before
 *   @effect/cli, which would otherwise take an unknown `--flag` for a positional argument (`kv put
 *   --endpoint x` stored the key "--endpoint"); what @effect/cli itself rejects (a missing argument,
 *   a bad value) it reports as a `ValidationError`, rephrased here into the same one line. Its own
 *   multi-line, coloured printing is silenced.
 *
 * The command tree is read from @effect/cli's descriptors (`Standard`, `Map`, `Subcommands`): their
 * shape is internal to @effect/cli, pinned by package.json; test/cli/output.test.ts covers every
 * command, so a change of shape fails there.
 * @internal
 */
import { CliConfig, Command, CommandDescriptor, HelpDoc, Usage, ValidationError } from "@effect/cli"
import type { Span } from "@effect/cli/HelpDoc/Span"
import { Console, Effect, Option } from "effect"
import { ExitCode, fail } from "./exit.js"

// -- the command tree ------------------------------------------------------------------------------

interface OptionInfo {
  readonly names: ReadonlyArray<string>
  /** The value's placeholder; undefined for a flag that takes no value. */
  readonly placeholder: string | undefined
  readonly description: string
}

interface ArgInfo {
  readonly name: string
  readonly description: string
}

/** One command: a group (with children) or a runnable command (with options and arguments). */
export interface Node {
  /** The words after `concord`: "" for concord itself, "kv put" for `concord kv put`. */
  readonly path: string
  readonly name: string
  readonly description: string
  readonly usage: string
  readonly options: ReadonlyArray<OptionInfo>
  readonly args: ReadonlyArray<ArgInfo>
  readonly children: ReadonlyArray<Node>
}

const config = CliConfig.make({ showBuiltIns: false })

const spanText = (span: Span): string => {
  switch (span._tag) {
    case "Text":
    case "URI":
      return span.value
    case "Sequence":
      return spanText(span.left) + spanText(span.right)
    case "Highlight":
    case "Strong":
    case "Weak":
      return spanText(span.value)
  }
}

/** A help document's paragraphs as plain text, one per element. */
const paragraphs = (doc: HelpDoc.HelpDoc): Array<string> => {
  switch (doc._tag) {
    case "Empty":
      return []
    case "Header":
    case "Paragraph":
      return [spanText(doc.value)]
    case "Sequence":
      return [...paragraphs(doc.left), ...paragraphs(doc.right)]
    case "Enumeration":
      return doc.elements.flatMap(paragraphs)
    case "DescriptionList":
      return doc.definitions.flatMap(([title, body]) => [spanText(title), ...paragraphs(body)])
  }
}

// What @effect/cli says of every value of a type ("A user-defined piece of text."): it says nothing
// about this option, and the placeholder already says the type.
const BOILERPLATE = [
  /^A user-defined piece of text/,
  /^An integer\.$/,
  /^A floating point number\.$/,
  /^A true or false value\.$/,
  /^One of the following: /,
  /^This setting is optional\.$/,
  /^(An existing|A) (file|directory|path)/,
  /^This option can be repeated/,
  /^This argument (must|may) be repeated/
]
const meaningful = (text: string) => text.trim() !== "" && !BOILERPLATE.some((re) => re.test(text.trim()))

/** Every `[title, description]` of the description lists under `section` ("OPTIONS", "ARGUMENTS"). */
const definitions = (doc: HelpDoc.HelpDoc, section: string): Array<readonly [string, string]> => {
  const out: Array<readonly [string, string]> = []
  let current = ""
  const walk = (d: HelpDoc.HelpDoc): void => {
    switch (d._tag) {
      case "Header":
        current = spanText(d.value)
        return
      case "Sequence":
        walk(d.left)
        walk(d.right)
        return
      case "DescriptionList":
        if (current === section) {
          for (const [title, body] of d.definitions) {
            out.push([spanText(title), paragraphs(body).filter(meaningful).join(" ")])
          }
        }
        return
      default:
        return
    }
  }
  walk(doc)
  return out
}

interface Named {
  readonly names: ReadonlyArray<string>
  readonly placeholder: string | undefined
}

const namedIn = (usage: Usage.Usage): Array<Named> => {
  switch (usage._tag) {
    case "Named":
      return [{ names: usage.names, placeholder: Option.getOrUndefined(usage.acceptedValues) }]
    case "Optional":
    case "Repeated":
      return namedIn(usage.usage)
    case "Alternation":
    case "Concat":
      return [...namedIn(usage.left), ...namedIn(usage.right)]
    case "Empty":
    case "Mixed":
      return []
  }
}

type Descriptor =
  | { readonly _tag: "Standard"; readonly name: string; readonly description: HelpDoc.HelpDoc }
  | { readonly _tag: "GetUserInput"; readonly name: string; readonly description: HelpDoc.HelpDoc }
  | { readonly _tag: "Map"; readonly command: Descriptor }
  | { readonly _tag: "Subcommands"; readonly parent: Descriptor; readonly children: ReadonlyArray<Descriptor> }

// `prefix`: the words before the command's own name ("concord", "kv" for `put`).
const nodeOf = (descriptor: Descriptor, prefix: ReadonlyArray<string>): Node => {
  switch (descriptor._tag) {
    case "Map":
      return nodeOf(descriptor.command, prefix)
    case "Subcommands": {
      const parent = nodeOf(descriptor.parent, prefix)
      return { ...parent, children: descriptor.children.map((child) => nodeOf(child, [...prefix, parent.name])) }
    }
    case "Standard":
    case "GetUserInput": {
      const d = descriptor as unknown as CommandDescriptor.Command<unknown>
      const path = [...prefix, descriptor.name].slice(1).join(" ")
      const usage = CommandDescriptor.getUsage(d)
      const help = CommandDescriptor.getHelp(d, config)
      const optionHelp = definitions(help, "OPTIONS")
      const argHelp = definitions(help, "ARGUMENTS")
      const named = namedIn(usage)
      const options = named.filter((n) => n.names.some((name) => name.startsWith("-"))).map((n): OptionInfo => ({
        ...n,
        description: optionHelp.find(([title]) => title.split(/[\s(),]+/).includes(n.names[0]!))?.[1] ?? ""
      }))
      const args = named.filter((n) => n.names[0]!.startsWith("<")).map((n): ArgInfo => ({
        name: n.names[0]!,
        description: argHelp.find(([title]) => title.startsWith(n.names[0]!))?.[1] ?? ""
      }))
      const line = Usage.enumerate(usage, config).map(spanText)[0] ?? descriptor.name
      return {
        path,
        name: descriptor.name,
        description: paragraphs(descriptor.description).join(" "),
        usage: ["concord", ...prefix.slice(1), line].join(" "),
        options,
        args,
        children: []
      }
    }
  }
}

/** The tree of `root` (the `concord` command itself). */
export const tree = (root: Command.Command<any, any, any, any>): Node =>
  nodeOf(root.descriptor as unknown as Descriptor, [])

// -- help ------------------------------------------------------------------------------------------

/** Whether to colour what goes to `stream`: only a terminal, and not when `NO_COLOR` is set (no-color.org). */
export const colorFor = (stream: NodeJS.WriteStream): boolean =>
  stream.isTTY === true && (process.env.NO_COLOR ?? "") === ""

const WIDTH = 100

/** `rows` as two columns, the second wrapped to WIDTH. */
const columns = (rows: ReadonlyArray<readonly [string, string]>): Array<string> => {
  const left = Math.min(30, Math.max(...rows.map(([l]) => l.length)))
  const out: Array<string> = []
  for (const [l, r] of rows) {
    const words = r.split(/\s+/).filter((w) => w.length > 0)
    const lines: Array<string> = []
    let line = ""
    for (const w of words) {
      if (line !== "" && 2 + left + 2 + line.length + 1 + w.length > WIDTH) {
        lines.push(line)
        line = w
      } else line = line === "" ? w : `${line} ${w}`
    }
    if (line !== "") lines.push(line)
    const pad = " ".repeat(2 + left + 2)
    if (l.length > left) {
      out.push(`  ${l}`)
      for (const x of lines) out.push(pad + x)
    } else {
      out.push(`  ${l.padEnd(left)}  ${lines[0] ?? ""}`.trimEnd())
      for (const x of lines.slice(1)) out.push(pad + x)
    }
  }
  return out
}

/** A usage line wrapped to WIDTH, continuation lines indented under the command. */
const wrapUsage = (label: string, usage: string): Array<string> => {
  // Split between bracketed groups, never inside one: "[--peers ID=HOST:PORT,…]" stays whole.
  const parts = usage.match(/\[[^\]]*\]|<[^>]*>(\.\.\.)?|\S+/g) ?? [usage]
  const indent = " ".repeat(8)
  const lines: Array<string> = []
  let line = label.trimEnd()
  let visible = "usage:".length
  for (const part of parts) {
    if (visible + 1 + part.length > WIDTH && visible > indent.length) {
      lines.push(line)
      line = indent + part
      visible = indent.length + part.length
    } else {
      line += ` ${part}`
      visible += 1 + part.length
    }
  }
  lines.push(line)
  return lines
}

const title = (node: Node) => (node.path === "" ? "concord" : `concord ${node.path}`)

/** The help of `node`, as printed by `concord … --help`. */
export const helpText = (node: Node, options: { readonly color: boolean }): string => {
  const bold = (s: string) => (options.color ? `\x1b[1m${s}\x1b[0m` : s)
  const out: Array<string> = [`${bold(title(node))}: ${node.description}`, ""]
  if (node.children.length > 0) {
    out.push(`${bold("usage:")} ${title(node)} <command> [options]`, "", bold("commands:"))
    out.push(...columns(node.children.map((c) => [c.name, c.description])))
    out.push("", bold("options:"))
    const global: Array<readonly [string, string]> = [["-h, --help", "show this help"]]
    if (node.path === "") global.push(["--version", "print the version"])
    out.push(...columns(global), "", `Run \`${title(node)} <command> --help\` for a command's options.`)
    if (node.path === "") {
      out.push(
        "Every command also takes --log-level LEVEL (all, trace, debug, info, warning, error, fatal, none):",
        "its log lines on stderr from that level up."
      )
    }
  } else {
    out.push(...wrapUsage(`${bold("usage:")} `, node.usage))
    if (node.args.length > 0) {
      out.push("", bold("arguments:"), ...columns(node.args.map((a) => [a.name, a.description])))
    }
    out.push("", bold("options:"))
    out.push(...columns([
      ...node.options.map((o) => {
        const name = o.names.join(", ") + (o.placeholder === undefined ? "" : ` ${o.placeholder}`)
        return [name, o.description] as const
      }),
      ["-h, --help", "show this help"]
    ]))
  }
  return out.join("\n")
}

// -- the command line ------------------------------------------------------------------------------

// @effect/cli's built-in options: the name and whether it takes a value.
const BUILT_IN: ReadonlyMap<string, boolean> = new Map([
  ["--help", false],
  ["-h", false],
  ["--version", false],
  ["--wizard", false],
  ["--completions", true],
  ["--log-level", true]
])

const distance = (a: string, b: string): number => {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
  }
  return d[a.length]![b.length]!
}

const suggest = (word: string, candidates: ReadonlyArray<string>): string => {
  const best = candidates.map((c) => [c, distance(word, c)] as const).sort((x, y) => x[1] - y[1])[0]
  return best !== undefined && best[1] <= 2 ? ` (did you mean ${best[0]}?)` : ""
}

/** What to do with a command line. */
export type Plan =
  | { readonly _tag: "Help"; readonly node: Node }
  | { readonly _tag: "Version" }
  | { readonly _tag: "Error"; readonly node: Node; readonly message: string }
  | { readonly _tag: "Run"; readonly node: Node }

const wantsHelp = (words: ReadonlyArray<string>) => {
  const end = words.indexOf("--")
  return (end < 0 ? words : words.slice(0, end)).some((w) => w === "--help" || w === "-h")
}

/** Checks the words after the command's path: every option is one it has, with a value if it needs one. */
const checkOptions = (node: Node, words: ReadonlyArray<string>): string | undefined => {
  const known = new Map<string, boolean>(BUILT_IN)
  for (const o of node.options) for (const n of o.names) known.set(n, o.placeholder !== undefined)
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!
    if (w === "--") return undefined
    // "-" (stdin) and negative numbers are values, not options.
    if (!w.startsWith("-") || w === "-" || /^-\d/.test(w)) continue
    const name = w.startsWith("--") && w.includes("=") ? w.slice(0, w.indexOf("=")) : w
    const takesValue = known.get(name)
    if (takesValue === undefined) {
      return `unknown option ${name}${suggest(name, node.options.flatMap((o) => o.names))}`
    }
    if (takesValue && !w.includes("=")) {
      if (i + 1 >= words.length) return `${name} needs a value`
      i++
    }
  }
  return undefined
}

/** Decides what a command line (the words after `concord`) asks for. */
export const plan = (root: Node, words: ReadonlyArray<string>): Plan => {
  let node = root
  let i = 0
  while (node.children.length > 0) {
    const w = words[i]
    if (w === undefined) return { _tag: "Help", node }
    if (w.startsWith("-")) {
      if (wantsHelp(words.slice(i))) return { _tag: "Help", node }
      if (node === root && w === "--version") return { _tag: "Version" }
      const names = node.children.map((c) => c.name)
      return { _tag: "Error", node, message: `expected a command (${names.join(", ")}), got ${w}` }
    }
    const next = node.children.find((c) => c.name === w)
    if (next === undefined) {
      const names = node.children.map((c) => c.name)
      return {
        _tag: "Error",
        node,
        message: `unknown command "${w}"${suggest(w, names)}; ` +
          `the ${node.path === "" ? "" : `${node.path} `}commands are ${names.join(", ")}`
      }
    }
    node = next
    i++
  }
  const rest = words.slice(i)
  if (wantsHelp(rest)) return { _tag: "Help", node }
  const bad = checkOptions(node, rest)
  return bad === undefined ? { _tag: "Run", node } : { _tag: "Error", node, message: bad }
}

const REPHRASE: ReadonlyArray<readonly [RegExp, (m: RegExpExecArray) => string]> = [
  [/^Missing argument (<.+>)$/, (m) => `missing argument ${m[1]}`],
  [/^Expected to find option: '(.+)'$/, (m) => `missing option ${m[1]}`],
  [/^Expected a value following option: '(.+)'$/, (m) => `${m[1]} needs a value`],
  [
    /^Received unknown argument: '(.+)'$/,
    (m) => (m[1]!.startsWith("-") ? `unknown option ${m[1]}` : `unexpected argument "${m[1]}"`)
  ],
  [
    /^The flag '(.+)' is not recognized\. Did you mean '(.+)'\?$/,
    (m) => `unknown option ${m[1]} (did you mean ${m[2]}?)`
  ]
]

/** A `ValidationError` from @effect/cli as one line. */
export const rephrase = (e: ValidationError.ValidationError): string => {
  const text = ("error" in e ? paragraphs(e.error) : []).map((p) => p.trim()).filter((p) => p !== "").join("; ")
  for (const [re, say] of REPHRASE) {
    const m = re.exec(text)
    if (m !== null) return say(m)
  }
  return (text.charAt(0).toLowerCase() + text.slice(1)).replace(/\.$/, "") || "invalid command line"
}

const hint = (node: Node) => ` (see ${title(node)} --help)`

/** The `concord` program: `run` parses `argv` (node, script, words…) and runs the command it names. */
export const make = <R, E>(options: {
  readonly description: string
  readonly version: string
  readonly subcommands: readonly [Command.Command<any, R, E, any>, ...Array<Command.Command<any, R, E, any>>]
}) => {
  const root = Command.make("concord").pipe(
    Command.withDescription(options.description),
    Command.withSubcommands(options.subcommands)
  )
  const commands = tree(root)
  const run = (argv: ReadonlyArray<string>) => {
    const p = plan(commands, argv.slice(2))
    switch (p._tag) {
      case "Help":
        return Console.log(helpText(p.node, { color: colorFor(process.stdout) }))
      case "Version":
        return Console.log(options.version)
      case "Error":
        return fail(p.node.path || "", ExitCode.BadInput, p.message + hint(p.node))
      case "Run":
        return Effect.consoleWith((console) => {
          // @effect/cli prints what it rejects (multi-line, coloured) before failing with it; that is
          // said again below in one line. The command itself writes to the real console.
          const quiet = { ...console, error: () => Effect.void }
          const run = Command.run(Command.transformHandler(root, (effect) => Effect.withConsole(effect, console)), {
            name: "concord",
            version: options.version
          })
          return run(argv).pipe(
            Effect.withConsole(quiet),
            Effect.catchIf(ValidationError.isValidationError, (e) =>
              fail(p.node.path, ExitCode.BadInput, rephrase(e) + hint(p.node)))
          )
        })
    }
  }
  return { root, run }
}
