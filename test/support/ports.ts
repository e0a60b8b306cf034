/** Loopback ports for tests that start real servers. */
import * as net from "node:net"

/**
 * Ports below the kernel's ephemeral range (32768-60999 on Linux), where a port the OS hands out for
 * `listen(0)` can be taken by some connection's source port in the moment between our probe and the
 * server's bind (seen: a node of a deploy test failing with "address already in use"). Each vitest
 * worker takes its own slice, so two test files never probe the same ports; within a slice, ports go
 * round from a random start.
 */
const SLICE = 3000
const pool = Number(process.env.VITEST_POOL_ID ?? "1")
const sliceStart = 20000 + ((Number.isSafeInteger(pool) && pool > 0 ? pool - 1 : 0) % 4) * SLICE
let next = Math.floor(Math.random() * SLICE)

/** A port that can be bound on 127.0.0.1 now, outside the ephemeral range (see above). */
export const freePort = async (): Promise<number> => {
  for (let attempt = 0; attempt < SLICE; attempt++) {
    const port = sliceStart + (next++ % SLICE)
    if (await canBind(port)) return port
  }
  throw new Error(`no free port in ${sliceStart}-${sliceStart + SLICE - 1}`)
}

/** Whether 127.0.0.1:port can be bound right now. */
export const canBind = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.createServer()
    s.once("error", () => resolve(false))
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)))
  })

/** A port p such that p .. p + n - 1 are all free (for commands that take a base port); taken from the slice. */
export const freeRange = async (n: number): Promise<number> => {
  for (let attempt = 0; attempt < SLICE; attempt++) {
    const offset = next % SLICE
    next += offset + n > SLICE ? SLICE - offset : n
    if (offset + n > SLICE) continue
    const p = sliceStart + offset
    if ((await Promise.all(Array.from({ length: n }, (_, i) => canBind(p + i)))).every((ok) => ok)) return p
  }
  throw new Error(`no ${n} consecutive free ports in ${sliceStart}-${sliceStart + SLICE - 1}`)
}
