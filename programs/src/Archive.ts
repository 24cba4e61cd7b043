/**
 * Tarballs, safely: every header is checked before anything is written, and the whole archive
 * is refused at the first bad entry — an absolute path, a `..` segment, a link whose target
 * leaves the tree, a device or FIFO, more entries or bytes than the limits. Gzip is inflated
 * with a ceiling on its output, so a gzip bomb stops at the ceiling instead of filling memory
 * or disk. A single top-level folder is taken as the program's root.
 */
import { Effect } from "effect"
import { chmodSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { join, posix } from "node:path"
import { promisify } from "node:util"
import { gunzip } from "node:zlib"
import * as tar from "tar"
import { InstallRefused, type Limits, linkStaysInside } from "./Tree.js"

const inflate = promisify(gunzip) as (buffer: Buffer, options: { maxOutputLength: number }) => Promise<Buffer>

/** A checked entry, ready to write. */
interface Entry {
  readonly path: string
  readonly kind: "dir" | "file" | "symlink" | "hardlink"
  readonly mode: number
  readonly data: Buffer
  readonly target: string
}

/** An archive path as a clean relative path, or why it is refused; "" for the root itself. */
export const archivePath = (raw: string): string | { readonly refused: string } => {
  if (raw.includes("\0") || /[\x00-\x1f\x7f]/.test(raw)) return { refused: `the entry ${JSON.stringify(raw)} has a control character in its name` }
  if (raw.startsWith("/") || /^[A-Za-z]:/.test(raw) || raw.includes("\\")) return { refused: `the entry ${JSON.stringify(raw)} has an absolute path` }
  const segments = raw.split("/").filter((s) => s !== "" && s !== ".")
  if (segments.includes("..")) return { refused: `the entry ${JSON.stringify(raw)} has a ".." segment` }
  return segments.join("/")
}

const FILE_TYPES = new Set(["File", "OldFile", "ContiguousFile"])

/** Reads and checks every entry of an uncompressed tar. */
const readEntries = (tarBytes: Buffer, limits: Limits): Promise<ReadonlyArray<Entry>> =>
  new Promise((resolve, reject) => {
    const entries: Array<Entry> = []
    let bytes = 0
    let failed = false
    const refuse = (message: string) => {
      if (failed) return
      failed = true
      reject(new InstallRefused({ message }))
    }
    const parser = new tar.Parser({
      strict: true,
      onReadEntry: (entry) => {
        if (failed) return entry.resume()
        const path = archivePath(entry.path)
        if (typeof path !== "string") return refuse(path.refused)
        if (entries.length >= limits.maxEntries) return refuse(`the archive has more than ${limits.maxEntries} entries`)
        bytes += entry.size
        if (bytes > limits.maxBytes) return refuse(`the archive unpacks to more than ${limits.maxBytes} bytes`)
        const mode = entry.mode ?? 0o644
        if (entry.type === "Directory") {
          if (path !== "") entries.push({ path, kind: "dir", mode, data: Buffer.alloc(0), target: "" })
          return entry.resume()
        }
        if (path === "") return refuse("an archive entry other than a directory has no name")
        if (entry.type === "SymbolicLink" || entry.type === "Link") {
          const target = entry.linkpath ?? ""
          if (entry.type === "SymbolicLink" ? !linkStaysInside(path, target) : typeof archivePath(target) !== "string" || archivePath(target) === "") {
            return refuse(`the link ${path} points outside the program (to ${target})`)
          }
          entries.push({ path, kind: entry.type === "SymbolicLink" ? "symlink" : "hardlink", mode, data: Buffer.alloc(0), target })
          return entry.resume()
        }
        if (!FILE_TYPES.has(entry.type)) return refuse(`the entry ${path} is a ${entry.type}, not a file, directory or link`)
        const chunks: Array<Buffer> = []
        entry.on("data", (c: Buffer) => chunks.push(c))
        entry.on("end", () => entries.push({ path, kind: "file", mode, data: Buffer.concat(chunks), target: "" }))
      }
    })
    parser.on("warn", (code: string, message: string | Error) => {
      // strict: a malformed header is an error, not something to skip over
      if (code !== "TAR_ENTRY_INFO") refuse(`the archive is not a valid tar: ${typeof message === "string" ? message : message.message}`)
    })
    parser.on("error", (e: Error) => refuse(`the archive is not a valid tar: ${e.message}`))
    parser.on("end", () => {
      if (failed) return
      if (entries.length === 0) return refuse("the archive is empty or not a tar")
      resolve(entries)
    })
    parser.end(tarBytes)
  })

/** When every entry is under one top-level folder, that folder is the root. */
export const stripSingleRoot = (paths: ReadonlyArray<string>): string | undefined => {
  const first = paths[0]?.split("/")[0]
  if (first === undefined) return undefined
  const under = paths.every((p) => p === first || p.startsWith(`${first}/`))
  return under && paths.some((p) => p.startsWith(`${first}/`)) ? first : undefined
}

/** Writes checked entries under `dest` (which must not exist): directories and files first, links last. */
const writeEntries = (entries: ReadonlyArray<Entry>, dest: string) => {
  const root = stripSingleRoot(entries.map((e) => e.path))
  const relative = (p: string) => (root === undefined ? p : p === root ? "" : p.slice(root.length + 1))
  const links = entries.filter((e) => e.kind === "symlink").map((e) => relative(e.path))
  const files = new Map<string, Entry>()
  mkdirSync(dest, { recursive: false, mode: 0o755 })
  const ordered = [...entries.filter((e) => e.kind !== "symlink"), ...entries.filter((e) => e.kind === "symlink")]
  for (const entry of ordered) {
    const path = relative(entry.path)
    if (path === "") continue
    // nothing is written through a link: an entry below a link's path is refused
    const link = links.find((l) => path.startsWith(`${l}/`))
    if (link !== undefined) throw new InstallRefused({ message: `the entry ${entry.path} lies under the link ${link}` })
    const absolute = join(dest, path)
    mkdirSync(join(absolute, ".."), { recursive: true, mode: 0o755 })
    const executable = (entry.mode & 0o111) !== 0
    switch (entry.kind) {
      case "dir":
        mkdirSync(absolute, { recursive: true, mode: 0o755 })
        break
      case "file":
        writeFileSync(absolute, entry.data, { flag: "wx", mode: executable ? 0o755 : 0o644 })
        files.set(entry.path, entry)
        break
      case "hardlink": {
        // a hard link is written as a copy of the earlier file it names
        const source = files.get(posix.normalize(entry.target))
        if (source === undefined) throw new InstallRefused({ message: `the hard link ${entry.path} names no earlier file (${entry.target})` })
        writeFileSync(absolute, source.data, { flag: "wx", mode: (source.mode & 0o111) !== 0 ? 0o755 : 0o644 })
        break
      }
      case "symlink":
        symlinkSync(entry.target, absolute)
        break
    }
  }
  chmodSync(dest, 0o755)
}

/**
 * Unpacks a tarball (gzipped or not) into `dest`, which must not exist yet. Fails with
 * InstallRefused for an archive it will not unpack, leaving no `dest` behind.
 */
export const extractTarball = (archive: Buffer, dest: string, limits: Limits): Effect.Effect<void, InstallRefused> =>
  Effect.tryPromise({
    try: async () => {
      const gzipped = archive.length >= 2 && archive[0] === 0x1f && archive[1] === 0x8b
      // the tar stream is the content plus a 512-byte header per entry, and padding
      const ceiling = limits.maxBytes + 1024 * (limits.maxEntries + 2)
      let tarBytes: Buffer
      try {
        tarBytes = gzipped ? await inflate(archive, { maxOutputLength: ceiling }) : archive
      } catch (e) {
        const code = (e as { code?: string }).code
        throw new InstallRefused({
          message: code === "ERR_BUFFER_TOO_LARGE" || e instanceof RangeError
            ? `the archive inflates to more than ${ceiling} bytes; refused before unpacking`
            : `the archive is not valid gzip: ${(e as Error).message}`
        })
      }
      if (tarBytes.length > ceiling) throw new InstallRefused({ message: `the archive is larger than ${ceiling} bytes` })
      const entries = await readEntries(tarBytes, limits)
      try {
        writeEntries(entries, dest)
      } catch (e) {
        rmSync(dest, { recursive: true, force: true })
        throw e
      }
    },
    catch: (e) => (e instanceof InstallRefused ? e : new InstallRefused({ message: `could not unpack the archive: ${(e as Error).message}` }))
  })

/** Packs a folder (without `.git`) as a gzipped tarball, links kept as links. */
export const packDirectory = (dir: string): Effect.Effect<Buffer, InstallRefused> =>
  Effect.tryPromise({
    try: async () => {
      const names = readdirSync(dir).filter((n) => n !== ".git").sort()
      if (names.length === 0) throw new InstallRefused({ message: `${dir} is empty` })
      const chunks: Array<Buffer> = []
      const stream = tar.c({ gzip: true, cwd: dir, portable: true, follow: false, filter: (p) => !/(^|\/)\.git(\/|$)/.test(p) }, names)
      for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk)
      return Buffer.concat(chunks)
    },
    catch: (e) => (e instanceof InstallRefused ? e : new InstallRefused({ message: `could not pack ${dir}: ${(e as Error).message}` }))
  })
