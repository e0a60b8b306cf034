/**
 * `npx tsx scripts/check-view.ts [--out DIR]`: renders the HTML view of a known-illegal history,
 * opens it in headless Chromium (Debian's `chromium` package; CHROMIUM=<path> to use another), and
 * verifies what the browser drew:
 *
 * - `--dump-dom`: the script ran, one lane per client, every operation box, the illegal operation and
 *   the failure line are in the rendered DOM;
 * - `--screenshot`: decodes the PNG (node:zlib, no dependencies) and checks that both lane colours,
 *   the linearized and illegal box colours, and a tall vertical run of the failure-line colour are on
 *   screen.
 *
 * Not part of `npm test` (CI has no browser). Exit 0 when every check passes, 1 when one fails, 2 when
 * Chromium is missing.
 */
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { inflateSync } from "node:zlib"
import * as HtmlView from "../src/check/HtmlView.js"
import * as Linearizability from "../src/check/Linearizability.js"
import * as Kv from "../src/check/models/Kv.js"
import { linearizableKv } from "../test/check/support/histories.js"

const WIDTH = 1400
const HEIGHT = 1000

// A generated linearizable history on two keys with one read corrupted near the end: a stale value.
const makeHistory = (): Kv.History => {
  const { history } = linearizableKv({ ops: 36, keys: 2, clients: 5, overlap: 4, seed: 42, pending: 0.03 })
  const reads = history.flatMap((op, i) =>
    op.input.op === "get" && op.return !== undefined && op.input.key === "k0" ? [i] : []
  )
  const bad = reads[reads.length - 2]!
  return history.map((op, i) => (i === bad ? { ...op, output: { value: "stale" } } : op))
}

const run = (bin: string, args: ReadonlyArray<string>, timeoutMs = 60_000) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })

// Without the background-networking flags Chromium waits for network services this machine lacks.
const chromiumFlags = (profile: string) => [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--hide-scrollbars",
  `--user-data-dir=${profile}`,
  `--window-size=${WIDTH},${HEIGHT}`
]

interface Image {
  readonly width: number
  readonly height: number
  readonly rgb: (x: number, y: number) => readonly [number, number, number]
}

/** Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes). */
const decodePng = (png: Buffer): Image => {
  if (png.readUInt32BE(0) !== 0x89504e47) throw new Error("not a PNG")
  let offset = 8
  let width = 0
  let height = 0
  let channels = 0
  const idat: Array<Buffer> = []
  while (offset < png.length) {
    const length = png.readUInt32BE(offset)
    const type = png.toString("latin1", offset + 4, offset + 8)
    const data = png.subarray(offset + 8, offset + 8 + length)
    if (type === "IHDR") {
      width = data.readUInt32BE(0)
      height = data.readUInt32BE(4)
      const depth = data[8]
      const color = data[9]
      if (depth !== 8 || (color !== 2 && color !== 6) || data[12] !== 0) {
        throw new Error(`unsupported PNG (depth ${depth}, colour ${color})`)
      }
      channels = color === 6 ? 4 : 3
    } else if (type === "IDAT") idat.push(data)
    else if (type === "IEND") break
    offset += 12 + length
  }
  const raw = inflateSync(Buffer.concat(idat))
  const stride = width * channels
  const pixels = Buffer.alloc(height * stride)
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1))
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? pixels[y * stride + i - channels]! : 0
      const b = y > 0 ? pixels[(y - 1) * stride + i]! : 0
      const c = y > 0 && i >= channels ? pixels[(y - 1) * stride + i - channels]! : 0
      const x = line[i]!
      let v: number
      switch (filter) {
        case 0: v = x; break
        case 1: v = x + a; break
        case 2: v = x + b; break
        case 3: v = x + ((a + b) >>> 1); break
        case 4: {
          const p = a + b - c
          const pa = Math.abs(p - a)
          const pb = Math.abs(p - b)
          const pc = Math.abs(p - c)
          v = x + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)
          break
        }
        default: throw new Error(`bad PNG filter ${filter}`)
      }
      pixels[y * stride + i] = v & 0xff
    }
  }
  return {
    width,
    height,
    rgb: (x, y) => {
      const i = y * stride + x * channels
      return [pixels[i]!, pixels[i + 1]!, pixels[i + 2]!]
    }
  }
}

const hex = (color: string): readonly [number, number, number] => {
  const n = parseInt(color.slice(1), 16)
  return [(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]
}

const main = async () => {
  const outIndex = process.argv.indexOf("--out")
  const out = outIndex > 0 ? process.argv[outIndex + 1]! : mkdtempSync(join(tmpdir(), "concord-view-"))
  const chromium = process.env["CHROMIUM"] ?? "/usr/bin/chromium"
  if (!existsSync(chromium)) {
    console.error(`${chromium} not found: apt-get install -y chromium, or set CHROMIUM=<path>`)
    process.exit(2)
  }

  const history = makeHistory()
  const result = Linearizability.checkHistory(Kv.model, history)
  if (result._tag !== "Illegal") throw new Error(`expected an illegal history, got ${result._tag}`)
  const failed = Linearizability.illegalPartitions(result)[0]!
  const clients = new Set(failed.ops.map((i) => history[i]!.clientId)).size
  const htmlPath = join(out, "view.html")
  const pngPath = join(out, "view.png")
  writeFileSync(htmlPath, HtmlView.render(Kv.model, history, result, { title: "check-view: a stale read" }))
  console.log(Linearizability.explain(Kv.model, history, result))

  const failures: Array<string> = []
  const expect = (ok: boolean, what: string) => {
    console.log(`${ok ? "ok  " : "FAIL"} ${what}`)
    if (!ok) failures.push(what)
  }

  const profile = () => mkdtempSync(join(tmpdir(), "chromium-"))
  const dom = await run(chromium, [...chromiumFlags(profile()), "--dump-dom", `file://${htmlPath}`])
  expect(dom.code === 0, `chromium --dump-dom exited ${dom.code}`)
  const html = dom.stdout
  const count = (re: RegExp) => (html.match(re) ?? []).length
  const firstSection = html.slice(html.indexOf(`<details class="partition illegal"`))
  const laneCount = (firstSection.slice(0, firstSection.indexOf("</details>")).match(/class="lane /g) ?? []).length
  expect(/<html[^>]*data-view="ready"/.test(html), "the page's script ran (data-view=ready)")
  expect(laneCount === clients, `one lane per client in the illegal partition (${laneCount} of ${clients})`)
  expect(count(/class="op /g) >= failed.ops.length, `operation boxes rendered (${count(/class="op /g)})`)
  expect(count(/class="op bad[^"]*"/g) >= 1, "the illegal operation is marked")
  expect(count(/class="fail-line"/g) === 1, "one failure line")

  const shot = await run(chromium, [...chromiumFlags(profile()), `--screenshot=${pngPath}`, `file://${htmlPath}`])
  expect(shot.code === 0 && existsSync(pngPath), `chromium --screenshot wrote ${pngPath}`)
  if (existsSync(pngPath)) {
    const image = decodePng(readFileSync(pngPath))
    const size = `${image.width}x${image.height}`
    expect(image.width === WIDTH && image.height === HEIGHT, `screenshot is ${WIDTH}x${HEIGHT} (${size})`)
    const tally = new Map<string, number>()
    const targets = {
      laneEven: HtmlView.colors.laneEven,
      laneOdd: HtmlView.colors.laneOdd,
      linearized: HtmlView.colors.linearized,
      illegal: HtmlView.colors.illegal,
      failureLine: HtmlView.colors.failureLine
    }
    const wanted = Object.entries(targets).map(([name, color]) => [name, hex(color)] as const)
    const lineColumns = new Map<number, number>()
    for (let y = 0; y < image.height; y++) {
      for (let x = 0; x < image.width; x++) {
        const [r, g, b] = image.rgb(x, y)
        for (const [name, [tr, tg, tb]] of wanted) {
          if (Math.abs(r - tr) <= 2 && Math.abs(g - tg) <= 2 && Math.abs(b - tb) <= 2) {
            tally.set(name, (tally.get(name) ?? 0) + 1)
            if (name === "failureLine") lineColumns.set(x, (lineColumns.get(x) ?? 0) + 1)
          }
        }
      }
    }
    for (const [name] of wanted) {
      const n = tally.get(name) ?? 0
      expect(n >= 200, `colour ${name} (${targets[name as keyof typeof targets]}) on screen: ${n} pixels`)
    }
    // The failure line spans every lane: some column holds a long run of its colour.
    const tallest = Math.max(0, ...lineColumns.values())
    expect(tallest >= clients * 30, `failure line is a vertical bar over the lanes (${tallest}px tall)`)
  }

  console.log(`\nview: ${htmlPath}\nscreenshot: ${pngPath}`)
  if (failures.length > 0) {
    console.error(`${failures.length} check(s) failed`)
    process.exit(1)
  }
}

await main()
