/** Loopback ports for tests that start real servers. */
import * as net from "node:net"

/** A port the OS reports free on 127.0.0.1 (bound, noted, closed). */
export const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer()
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })

/** Whether 127.0.0.1:port can be bound right now. */
export const canBind = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.createServer()
    s.once("error", () => resolve(false))
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)))
  })

/** A port p such that p .. p + n - 1 are all free (for commands that take a base port). */
export const freeRange = async (n: number): Promise<number> => {
  for (let attempt = 0; attempt < 20; attempt++) {
    const p = await freePort()
    if (p + n > 65536) continue
    if ((await Promise.all(Array.from({ length: n }, (_, i) => canBind(p + i)))).every((ok) => ok)) return p
  }
  throw new Error(`no ${n} consecutive free ports`)
}
