/**
 * An in-memory `FileSystem` (from `@effect/platform`) for deterministic simulation.
 *
 * A simulated program must do no real I/O: the simulation kernel cannot see it and would move
 * virtual time past it. Code that takes its files from the `FileSystem` service runs unchanged on this
 * Layer in a simulation and on `NodeFileSystem.layer` for real.
 *
 * Semantics follow POSIX where programs rely on them: a parent directory must exist, `rename` is
 * atomic and replaces its target, `remove` of a non-empty directory needs `recursive`, `open` honours
 * the flags (`w` truncates, `wx` fails on an existing file, `a` appends), and every read returns a copy
 * (two simulated nodes never share a buffer). Paths are POSIX; a relative path is relative to `cwd`
 * (default `/`). Directory listings are sorted, so a run does not depend on insertion order.
 * Modification times come from Effect's `Clock` (virtual in a simulation).
 *
 * Fault injection: `onOperation` runs before every operation (including each `write` / `read` on an
 * open file) in the caller's fiber. It can sleep (disk latency), fail, or interrupt the caller — which
 * is how a test crashes a worker halfway through writing a file.
 *
 * Not supported (they fail with `BadArgument`): symbolic and hard links, `watch`.
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { BadArgument, type PlatformError, SystemError, type SystemErrorReason } from "@effect/platform/Error"
import { Clock, Effect, Layer, Option, type Scope, Stream } from "effect"

/** One operation, as seen by `onOperation`. */
export interface Operation {
  /** The `FileSystem` method (`readFile`, `rename`, ...) or, on an open file, `file.write` / `file.read` / ... */
  readonly method: string
  /** The normalized absolute path (for `rename` and copies, the source). */
  readonly path: string
  /** For `rename` and copies: the normalized destination. */
  readonly to?: string
  /** Bytes written, for writes. */
  readonly bytes?: number
}

/** Options of a memory file system. */
export interface Options {
  /** Initial files by path (parent directories are created). Strings are stored as UTF-8. */
  readonly files?: Readonly<Record<string, string | Uint8Array>>
  /** Directories to create at the start (with their parents). `/` and `/tmp` always exist. */
  readonly directories?: ReadonlyArray<string>
  /** The directory relative paths start from. Created if missing. Default `/`. */
  readonly cwd?: string
  /** Runs before every operation; may sleep, fail or interrupt the caller (fault injection). */
  readonly onOperation?: (operation: Operation) => Effect.Effect<void, PlatformError>
}

interface FileNode {
  readonly type: "File"
  data: Uint8Array
  size: number
  mtimeMs: number
}
interface DirNode {
  readonly type: "Directory"
  mtimeMs: number
}
type Node = FileNode | DirNode

const encoder = new TextEncoder()

/** Joins and normalizes a POSIX path against `cwd`; `..` above the root stays at the root. */
export const normalize = (cwd: string, path: string): string => {
  const parts: Array<string> = []
  for (const part of (path.startsWith("/") ? path : `${cwd}/${path}`).split("/")) {
    if (part === "" || part === ".") continue
    if (part === "..") parts.pop()
    else parts.push(part)
  }
  return "/" + parts.join("/")
}

const parentOf = (path: string): string => {
  const i = path.lastIndexOf("/")
  return i <= 0 ? "/" : path.slice(0, i)
}

const isUnder = (path: string, dir: string) => dir === "/" ? path !== "/" : path.startsWith(dir + "/")

const systemError = (reason: SystemErrorReason, method: string, path: string, description: string) =>
  new SystemError({ reason, module: "FileSystem", method, pathOrDescriptor: path, description })

const unsupported = (method: string) =>
  new BadArgument({ module: "FileSystem", method, description: "not supported by the memory file system" })

/**
 * Creates a memory file system. The returned value is a plain `FileSystem`: provide it with
 * `Layer.succeed(FileSystem.FileSystem, fs)` or use `layer`.
 */
export const make = (options: Options = {}): Effect.Effect<FileSystem.FileSystem> =>
  Effect.clockWith((clock) => Effect.sync(() => unsafeMake(options, clock)))

/** A memory file system as a `FileSystem` Layer (fresh per build). */
export const layer = (options: Options = {}): Layer.Layer<FileSystem.FileSystem> =>
  Layer.effect(FileSystem.FileSystem, make(options))

const unsafeMake = (options: Options, clock: Clock.Clock): FileSystem.FileSystem => {
  const nodes = new Map<string, Node>()
  const cwd = normalize("/", options.cwd ?? "/")
  const now = () => clock.unsafeCurrentTimeMillis()
  let nextFd = 3
  let nextTemp = 1

  const mkdirs = (path: string) => {
    let p = ""
    for (const part of path.split("/").filter((s) => s !== "")) {
      p += "/" + part
      const node = nodes.get(p)
      if (node === undefined) nodes.set(p, { type: "Directory", mtimeMs: now() })
      else if (node.type !== "Directory") throw new Error(`MemoryFileSystem: ${p} is a file, not a directory`)
    }
  }
  nodes.set("/", { type: "Directory", mtimeMs: now() })
  mkdirs("/tmp")
  mkdirs(cwd)
  for (const dir of options.directories ?? []) mkdirs(normalize(cwd, dir))
  for (const [path, content] of Object.entries(options.files ?? {})) {
    const p = normalize(cwd, path)
    mkdirs(parentOf(p))
    const data = typeof content === "string" ? encoder.encode(content) : content.slice()
    nodes.set(p, { type: "File", data, size: data.length, mtimeMs: now() })
  }

  const hook = options.onOperation
  /** Runs the hook, then `body` (synchronously, so the operation itself is atomic). */
  const op = <A>(operation: Operation, body: () => A): Effect.Effect<A, PlatformError> => {
    const run = Effect.suspend(() => {
      try {
        return Effect.succeed(body())
      } catch (e) {
        if (e instanceof SystemError || e instanceof BadArgument) return Effect.fail(e)
        throw e
      }
    })
    return hook === undefined ? run : Effect.zipRight(hook(operation), run)
  }

  const getFile = (method: string, path: string): FileNode => {
    const node = nodes.get(path)
    if (node === undefined) throw systemError("NotFound", method, path, "no such file or directory")
    if (node.type !== "File") throw systemError("BadResource", method, path, "is a directory")
    return node
  }
  /** The parent of `path` must be an existing directory. */
  const checkParent = (method: string, path: string) => {
    const parent = nodes.get(parentOf(path))
    if (parent === undefined) throw systemError("NotFound", method, path, "no such file or directory")
    if (parent.type !== "Directory") throw systemError("BadResource", method, path, "not a directory")
  }
  const children = (dir: string): Array<string> => {
    const out: Array<string> = []
    for (const p of nodes.keys()) if (isUnder(p, dir)) out.push(p)
    return out.sort()
  }
  const createFile = (method: string, path: string): FileNode => {
    checkParent(method, path)
    const node: FileNode = { type: "File", data: new Uint8Array(0), size: 0, mtimeMs: now() }
    nodes.set(path, node)
    return node
  }
  /** Writes `data` at `position` of `file`, growing it as needed. */
  const writeAt = (file: FileNode, position: number, data: Uint8Array) => {
    const end = position + data.length
    if (end > file.data.length) {
      const grown = new Uint8Array(Math.max(end, Math.min(file.data.length * 2, end + 64 * 1024 * 1024)))
      grown.set(file.data.subarray(0, file.size))
      file.data = grown
    }
    if (position > file.size) file.data.fill(0, file.size, position)
    file.data.set(data, position)
    file.size = Math.max(file.size, end)
    file.mtimeMs = now()
  }
  const info = (node: Node): FileSystem.File.Info => ({
    type: node.type,
    mtime: Option.some(new Date(node.mtimeMs)),
    atime: Option.some(new Date(node.mtimeMs)),
    birthtime: Option.none(),
    dev: 0,
    ino: Option.none(),
    mode: node.type === "File" ? 0o644 : 0o755,
    nlink: Option.some(1),
    uid: Option.none(),
    gid: Option.none(),
    rdev: Option.none(),
    size: FileSystem.Size(node.type === "File" ? node.size : 0),
    blksize: Option.none(),
    blocks: Option.none()
  })
  const removeNow = (method: string, path: string, recursive: boolean, force: boolean) => {
    const node = nodes.get(path)
    if (node === undefined) {
      if (force) return
      throw systemError("NotFound", method, path, "no such file or directory")
    }
    if (path === "/") throw systemError("PermissionDenied", method, path, "cannot remove the root")
    if (node.type === "Directory") {
      const inside = children(path)
      if (inside.length > 0 && !recursive) throw systemError("BadResource", method, path, "directory not empty")
      for (const p of inside) nodes.delete(p)
    }
    nodes.delete(path)
  }
  const copyNow = (method: string, from: string, to: string, overwrite: boolean) => {
    const src = nodes.get(from)
    if (src === undefined) throw systemError("NotFound", method, from, "no such file or directory")
    checkParent(method, to)
    const entries: Array<[string, Node]> = [[from, src]]
    for (const p of children(from)) entries.push([p, nodes.get(p)!])
    for (const [p, node] of entries) {
      const target = to + p.slice(from.length)
      const existing = nodes.get(target)
      if (existing !== undefined && node.type === "File") {
        if (!overwrite) throw systemError("AlreadyExists", method, target, "file exists")
        if (existing.type === "Directory") throw systemError("BadResource", method, target, "is a directory")
      }
      if (node.type === "File") {
        const data = node.data.slice(0, node.size)
        nodes.set(target, { type: "File", data, size: data.length, mtimeMs: now() })
      } else if (existing === undefined) nodes.set(target, { type: "Directory", mtimeMs: now() })
    }
  }
  const tempName = (method: string, directory: string | undefined, prefix: string | undefined, suffix = "") => {
    const dir = normalize(cwd, directory ?? "/tmp")
    const d = nodes.get(dir)
    if (d === undefined || d.type !== "Directory") throw systemError("NotFound", method, dir, "no such directory")
    let path: string
    do path = `${dir === "/" ? "" : dir}/${prefix ?? "tmp-"}${(nextTemp++).toString(36).padStart(6, "0")}${suffix}`
    while (nodes.has(path))
    return path
  }

  const makeTempDirectory = (o?: FileSystem.MakeTempDirectoryOptions) =>
    op({ method: "makeTempDirectory", path: normalize(cwd, o?.directory ?? "/tmp") }, () => {
      const path = tempName("makeTempDirectory", o?.directory, o?.prefix)
      nodes.set(path, { type: "Directory", mtimeMs: now() })
      return path
    })
  const makeTempFile = (o?: FileSystem.MakeTempFileOptions) =>
    op({ method: "makeTempFile", path: normalize(cwd, o?.directory ?? "/tmp") }, () => {
      const path = tempName("makeTempFile", o?.directory, o?.prefix, o?.suffix)
      createFile("makeTempFile", path)
      return path
    })
  const removeQuietly = (path: string) => Effect.sync(() => removeNow("remove", path, true, true))

  const openFile = (
    path: string,
    o?: FileSystem.OpenFileOptions
  ): Effect.Effect<FileSystem.File, PlatformError, Scope.Scope> => {
    const p = normalize(cwd, path)
    const flag = o?.flag ?? "r"
    return Effect.acquireRelease(
      op({ method: "open", path: p }, () => {
        const exclusive = flag.includes("x")
        let node = nodes.get(p)
        if (node?.type === "Directory") throw systemError("BadResource", "open", p, "is a directory")
        if (node !== undefined && exclusive) throw systemError("AlreadyExists", "open", p, "file exists")
        if (node === undefined) {
          if (flag === "r" || flag === "r+") throw systemError("NotFound", "open", p, "no such file or directory")
          node = createFile("open", p)
        } else if (flag.startsWith("w")) {
          node.size = 0
          node.data = new Uint8Array(0)
          node.mtimeMs = now()
        }
        return makeFile(p, node, flag)
      }),
      (file) => Effect.sync(() => file.close())
    ).pipe(Effect.map((file) => file.handle))
  }

  // An open file keeps its node: after a rename replaces the path, writes still go to the old file, as
  // with a POSIX descriptor.
  const makeFile = (path: string, node: FileNode, flag: FileSystem.OpenFlag) => {
    const readable = flag === "r" || flag.includes("+")
    const writable = flag !== "r"
    const append = flag.startsWith("a")
    const fd = nextFd++ as FileSystem.File.Descriptor
    let position = 0
    let closed = false
    const check = (method: string, need: boolean) => {
      if (closed) throw systemError("BadResource", method, path, "file descriptor is closed")
      if (!need) throw systemError("BadResource", method, path, `file not open for ${method.slice(5)}ing`)
    }
    const write = (data: Uint8Array) =>
      op({ method: "file.write", path, bytes: data.length }, () => {
        check("file.write", writable)
        if (append) position = node.size
        writeAt(node, position, data)
        position += data.length
        return FileSystem.Size(data.length)
      })
    const read = (buffer: Uint8Array) => {
      check("file.read", readable)
      const n = Math.max(0, Math.min(buffer.length, node.size - position))
      buffer.set(node.data.subarray(position, position + n))
      position += n
      return n
    }
    const handle: FileSystem.File = {
      [FileSystem.FileTypeId]: FileSystem.FileTypeId,
      fd,
      stat: op({ method: "file.stat", path }, () => info(node)),
      seek: (offset, from) =>
        Effect.sync(() => {
          const n = Number(offset)
          position = from === "start" ? n : position + n
        }),
      sync: op({ method: "file.sync", path }, () => undefined),
      read: (buffer) => op({ method: "file.read", path }, () => FileSystem.Size(read(buffer))),
      readAlloc: (size) =>
        op({ method: "file.read", path }, () => {
          const buffer = new Uint8Array(Number(size))
          const n = read(buffer)
          return n === 0 ? Option.none() : Option.some(buffer.subarray(0, n))
        }),
      truncate: (length) =>
        op({ method: "file.truncate", path }, () => {
          check("file.truncate", writable)
          const n = length === undefined ? 0 : Number(length)
          if (n < node.size) node.size = n
          else writeAt(node, node.size, new Uint8Array(n - node.size))
          node.mtimeMs = now()
        }),
      write,
      writeAll: (data) => Effect.asVoid(write(data))
    }
    return { handle, close: () => void (closed = true) }
  }

  return FileSystem.make({
    access: (path) =>
      op({ method: "access", path: normalize(cwd, path) }, () => {
        const p = normalize(cwd, path)
        if (!nodes.has(p)) throw systemError("NotFound", "access", p, "no such file or directory")
      }),
    copy: (from, to, o) =>
      op({ method: "copy", path: normalize(cwd, from), to: normalize(cwd, to) }, () =>
        copyNow("copy", normalize(cwd, from), normalize(cwd, to), o?.overwrite ?? false)),
    copyFile: (from, to) =>
      op({ method: "copyFile", path: normalize(cwd, from), to: normalize(cwd, to) }, () => {
        const src = getFile("copyFile", normalize(cwd, from))
        const target = normalize(cwd, to)
        checkParent("copyFile", target)
        if (nodes.get(target)?.type === "Directory") {
          throw systemError("BadResource", "copyFile", target, "is a directory")
        }
        const data = src.data.slice(0, src.size)
        nodes.set(target, { type: "File", data, size: data.length, mtimeMs: now() })
      }),
    chmod: (path) =>
      op({ method: "chmod", path: normalize(cwd, path) }, () => {
        if (!nodes.has(normalize(cwd, path))) throw systemError("NotFound", "chmod", path, "no such file or directory")
      }),
    chown: (path) =>
      op({ method: "chown", path: normalize(cwd, path) }, () => {
        if (!nodes.has(normalize(cwd, path))) throw systemError("NotFound", "chown", path, "no such file or directory")
      }),
    link: () => Effect.fail(unsupported("link")),
    symlink: () => Effect.fail(unsupported("symlink")),
    readLink: () => Effect.fail(unsupported("readLink")),
    makeDirectory: (path, o) =>
      op({ method: "makeDirectory", path: normalize(cwd, path) }, () => {
        const p = normalize(cwd, path)
        const node = nodes.get(p)
        if (o?.recursive === true) {
          if (node !== undefined && node.type !== "Directory") {
            throw systemError("AlreadyExists", "makeDirectory", p, "file exists")
          }
          for (let q = p; q !== "/"; q = parentOf(q)) {
            const n = nodes.get(q)
            if (n !== undefined && n.type !== "Directory") {
              throw systemError("BadResource", "makeDirectory", q, "not a directory")
            }
          }
          mkdirs(p)
          return
        }
        if (node !== undefined) throw systemError("AlreadyExists", "makeDirectory", p, "file exists")
        checkParent("makeDirectory", p)
        nodes.set(p, { type: "Directory", mtimeMs: now() })
      }),
    makeTempDirectory,
    makeTempDirectoryScoped: (o) => Effect.acquireRelease(makeTempDirectory(o), removeQuietly),
    makeTempFile,
    makeTempFileScoped: (o) => Effect.acquireRelease(makeTempFile(o), removeQuietly),
    open: openFile,
    readDirectory: (path, o) =>
      op({ method: "readDirectory", path: normalize(cwd, path) }, () => {
        const p = normalize(cwd, path)
        const node = nodes.get(p)
        if (node === undefined) throw systemError("NotFound", "readDirectory", p, "no such file or directory")
        if (node.type !== "Directory") throw systemError("BadResource", "readDirectory", p, "not a directory")
        const prefix = p === "/" ? 1 : p.length + 1
        const inside = children(p).map((c) => c.slice(prefix))
        return o?.recursive === true ? inside : inside.filter((c) => !c.includes("/"))
      }),
    readFile: (path) =>
      op({ method: "readFile", path: normalize(cwd, path) }, () => {
        const node = getFile("readFile", normalize(cwd, path))
        return node.data.slice(0, node.size)
      }),
    realPath: (path) =>
      op({ method: "realPath", path: normalize(cwd, path) }, () => {
        const p = normalize(cwd, path)
        if (!nodes.has(p)) throw systemError("NotFound", "realPath", p, "no such file or directory")
        return p
      }),
    remove: (path, o) =>
      op({ method: "remove", path: normalize(cwd, path) }, () =>
        removeNow("remove", normalize(cwd, path), o?.recursive ?? false, o?.force ?? false)),
    rename: (oldPath, newPath) =>
      op({ method: "rename", path: normalize(cwd, oldPath), to: normalize(cwd, newPath) }, () => {
        const from = normalize(cwd, oldPath)
        const to = normalize(cwd, newPath)
        const node = nodes.get(from)
        if (node === undefined) throw systemError("NotFound", "rename", from, "no such file or directory")
        checkParent("rename", to)
        if (from === to) return
        const target = nodes.get(to)
        if (node.type === "File") {
          if (target?.type === "Directory") throw systemError("BadResource", "rename", to, "is a directory")
          nodes.delete(from)
          nodes.set(to, node)
          return
        }
        if (isUnder(to, from)) throw systemError("BadResource", "rename", to, "cannot move a directory into itself")
        if (target !== undefined) {
          if (target.type !== "Directory") throw systemError("BadResource", "rename", to, "not a directory")
          if (children(to).length > 0) throw systemError("BadResource", "rename", to, "directory not empty")
        }
        const moved = children(from)
        for (const p of moved) {
          const n = nodes.get(p)!
          nodes.delete(p)
          nodes.set(to + p.slice(from.length), n)
        }
        nodes.delete(from)
        nodes.set(to, node)
      }),
    stat: (path) =>
      op({ method: "stat", path: normalize(cwd, path) }, () => {
        const p = normalize(cwd, path)
        const node = nodes.get(p)
        if (node === undefined) throw systemError("NotFound", "stat", p, "no such file or directory")
        return info(node)
      }),
    truncate: (path, length) =>
      op({ method: "truncate", path: normalize(cwd, path) }, () => {
        const node = getFile("truncate", normalize(cwd, path))
        const n = length === undefined ? 0 : Number(length)
        if (n < node.size) node.size = n
        else writeAt(node, node.size, new Uint8Array(n - node.size))
        node.mtimeMs = now()
      }),
    utimes: (path, _atime, mtime) =>
      op({ method: "utimes", path: normalize(cwd, path) }, () => {
        const p = normalize(cwd, path)
        const node = nodes.get(p)
        if (node === undefined) throw systemError("NotFound", "utimes", p, "no such file or directory")
        node.mtimeMs = typeof mtime === "number" ? mtime : mtime.getTime()
      }),
    watch: () => Stream.fail(unsupported("watch")),
    writeFile: (path, data, o) =>
      op({ method: "writeFile", path: normalize(cwd, path), bytes: data.length }, () => {
        const p = normalize(cwd, path)
        const flag = o?.flag ?? "w"
        let node = nodes.get(p)
        if (node?.type === "Directory") throw systemError("BadResource", "writeFile", p, "is a directory")
        if (node !== undefined && flag.includes("x")) throw systemError("AlreadyExists", "writeFile", p, "file exists")
        if (node === undefined) node = createFile("writeFile", p)
        if (flag.startsWith("a")) writeAt(node, node.size, data)
        else {
          node.data = data.slice()
          node.size = data.length
          node.mtimeMs = now()
        }
      })
  })
}
