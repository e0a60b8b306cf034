/**
 * `concord certs create`: a CA and certificates for a test cluster.
 *
 *   concord certs create --nodes n1,n2,n3 --out DIR [--hosts HOST,...] [--days 825]
 *
 * Writes DIR/ca.crt (+ ca.key), DIR/<node>.crt + .key for each node (server and client use: mutual
 * TLS between nodes; names 127.0.0.1, localhost and --hosts) and DIR/client.crt + .key (client use
 * only). Keys are readable by their owner only. Made with the system's `openssl` (see
 * `internal/certs.ts` for why). Exit 0 done, 1 openssl missing or failing, 3 bad input.
 * @since 0.1.0
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect } from "effect"
import * as Certs from "./internal/certs.js"
import { ExitCode, fail } from "./internal/exit.js"
import { integerOption } from "./internal/flags.js"

const list = (text: string) => text.split(",").map((x) => x.trim()).filter((x) => x.length > 0)

const create = Command.make(
  "create",
  {
    nodes: Options.text("nodes").pipe(
      Options.withPseudoName("ID,..."),
      Options.withDefault("n1,n2,n3"),
      Options.withDescription("the nodes to make certificates for (default n1,n2,n3)")
    ),
    out: Options.text("out").pipe(Options.withPseudoName("DIR"), Options.withDescription("where to write them (created if absent)")),
    hosts: Options.text("hosts").pipe(
      Options.withPseudoName("HOST,..."),
      Options.withDefault(""),
      Options.withDescription("more names (IP addresses or DNS names) the node certificates are valid for, beside 127.0.0.1 and localhost")
    ),
    days: integerOption("days", { min: 1, max: 36500, fallback: 825, description: "validity in days" })
  },
  (o) =>
    Effect.gen(function*() {
      const made = yield* Certs.create({ dir: o.out, nodes: list(o.nodes), hosts: list(o.hosts), days: o.days }).pipe(
        Effect.catchAll((m) => fail("certs create", m.startsWith("openssl") ? ExitCode.Failed : ExitCode.BadInput, m))
      )
      yield* Console.log(`CA: ${made.ca}`)
      for (const [id, pair] of Object.entries(made.nodes)) yield* Console.log(`node ${id}: ${pair.cert} ${pair.key}`)
      yield* Console.log(`client: ${made.client.cert} ${made.client.key}`)
      const first = Object.keys(made.nodes)[0]!
      yield* Console.log(
        `\nStart node ${first} with --tls-cert ${made.nodes[first]!.cert} --tls-key ${made.nodes[first]!.key} --tls-ca ${made.ca}` +
          `\nand clients with --tls-ca ${made.ca} (or export CONCORD_TLS_CA=${made.ca}).`
      )
    })
).pipe(Command.withDescription("make a CA, node certificates and a client certificate for a test cluster (with the system's openssl)"))

export const command = Command.make("certs").pipe(
  Command.withDescription("TLS certificates for a test cluster"),
  Command.withSubcommands([create])
)
