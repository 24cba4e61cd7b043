/**
 * Git's on-disk formats for the one thing the workspace does on every write — commit a few
 * paths — done synchronously: loose objects (zlib-deflated `<type> <size>\0<content>`, named by
 * their sha1), trees, commits, the branch ref and the index (version 2). isomorphic-git does the
 * same through layers of async file access that cost about a millisecond per object; here a
 * commit of one file costs its path's depth in small file writes.
 *
 * Only what the workspace itself writes is handled: an object missing as a loose file (packed by
 * someone's `git gc`), an index of another version or with extensions this does not know, a
 * detached HEAD — each reads as `undefined`, and the caller falls back to isomorphic-git.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { dirname, join } from "node:path"
import { deflateSync, inflateSync } from "node:zlib"

export interface TreeEntry {
  /** `100644`, `100755`, `120000`, `040000` or `160000`, as git writes it. */
  readonly mode: string
  readonly path: string
  readonly oid: string
}

const sha1 = (...parts: ReadonlyArray<Uint8Array>) => {
  const h = createHash("sha1")
  for (const p of parts) h.update(p)
  return h.digest("hex")
}

/** Writes a file so a reader sees the old bytes or the new ones, never a part. */
const replaceAtomically = (path: string, bytes: Uint8Array) => {
  const tmp = `${path}.annal-${process.pid}-${Math.random().toString(36).slice(2)}`
  fs.writeFileSync(tmp, bytes)
  fs.renameSync(tmp, path)
}

const objectPath = (gitdir: string, oid: string) => join(gitdir, "objects", oid.slice(0, 2), oid.slice(2))

/** Stores an object (if it is not there yet) and returns its id. */
export const writeObject = (gitdir: string, type: "blob" | "tree" | "commit", content: Uint8Array): string => {
  const header = Buffer.from(`${type} ${content.length}\0`, "utf8")
  const oid = sha1(header, content)
  const path = objectPath(gitdir, oid)
  if (!fs.existsSync(path)) {
    fs.mkdirSync(dirname(path), { recursive: true })
    // the fastest level: git reads any, and a commit's objects are small
    replaceAtomically(path, deflateSync(Buffer.concat([header, content]), { level: 1 }))
  }
  return oid
}

/** A loose object's type and content; undefined when it is not a loose object here. */
export const readObject = (gitdir: string, oid: string): { readonly type: string; readonly content: Buffer } | undefined => {
  let raw: Buffer
  try {
    raw = inflateSync(fs.readFileSync(objectPath(gitdir, oid)))
  } catch {
    return undefined
  }
  const nul = raw.indexOf(0)
  const space = raw.indexOf(0x20)
  if (nul < 0 || space < 0 || space > nul) return undefined
  return { type: raw.subarray(0, space).toString("utf8"), content: raw.subarray(nul + 1) }
}

/** A tree's entries, as stored. */
export const parseTree = (content: Buffer): Array<TreeEntry> => {
  const entries: Array<TreeEntry> = []
  let i = 0
  while (i < content.length) {
    const space = content.indexOf(0x20, i)
    const nul = content.indexOf(0, space)
    const mode = content.subarray(i, space).toString("utf8")
    entries.push({ mode: mode.length === 5 ? `0${mode}` : mode, path: content.subarray(space + 1, nul).toString("utf8"), oid: content.subarray(nul + 1, nul + 21).toString("hex") })
    i = nul + 21
  }
  return entries
}

/** Git's order of tree entries: by name, a tree's name compared as if it ended with `/`. */
const sortKey = (e: TreeEntry) => (e.mode === "040000" ? `${e.path}/` : e.path)

/** Sorts by a byte key computed once per element (git orders names by their UTF-8 bytes). */
const byBytes = <A>(items: ReadonlyArray<A>, key: (a: A) => string): Array<A> =>
  items
    .map((item) => ({ item, bytes: Buffer.from(key(item), "utf8") }))
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
    .map((k) => k.item)

/** A tree's bytes, entries in git's order (git writes a tree's mode as `40000`). */
export const serializeTree = (entries: ReadonlyArray<TreeEntry>): Buffer =>
  Buffer.concat(
    byBytes(entries, sortKey).flatMap((e) => [Buffer.from(`${e.mode === "040000" ? "40000" : e.mode} ${e.path}\0`, "utf8"), Buffer.from(e.oid, "hex")])
  )

export interface Signature {
  readonly name: string
  readonly email: string
  /** Seconds since the epoch. */
  readonly timestamp: number
  /** Minutes west of UTC, as isomorphic-git gives it (0 for UTC). */
  readonly timezoneOffset: number
}

const signature = (s: Signature) => {
  const east = -s.timezoneOffset
  const abs = Math.abs(east)
  return `${s.name} <${s.email}> ${s.timestamp} ${east >= 0 ? "+" : "-"}${String(Math.floor(abs / 60)).padStart(2, "0")}${String(abs % 60).padStart(2, "0")}`
}

/** A commit's bytes; the message ends with a newline, as git writes it. */
export const serializeCommit = (commit: {
  readonly tree: string
  readonly parents: ReadonlyArray<string>
  readonly author: Signature
  readonly committer: Signature
  readonly message: string
}): Buffer =>
  Buffer.from(
    [
      `tree ${commit.tree}`,
      ...commit.parents.map((p) => `parent ${p}`),
      `author ${signature(commit.author)}`,
      `committer ${signature(commit.committer)}`,
      "",
      commit.message.endsWith("\n") ? commit.message : `${commit.message}\n`
    ].join("\n"),
    "utf8"
  )

/** The tree a commit names, when the commit is a loose object. */
export const treeOf = (gitdir: string, commit: string): string | undefined => {
  const object = readObject(gitdir, commit)
  if (object?.type !== "commit") return undefined
  const match = /^tree ([0-9a-f]{40})$/m.exec(object.content.toString("utf8"))
  return match?.[1]
}

/** The branch HEAD is on (`refs/heads/…`) and its commit; undefined for a detached HEAD or a packed ref. */
export const headBranch = (gitdir: string): { readonly ref: string; readonly commit: string } | undefined => {
  const head = fs.readFileSync(join(gitdir, "HEAD"), "utf8").trim()
  if (!head.startsWith("ref: refs/heads/")) return undefined
  const ref = head.slice("ref: ".length)
  try {
    const commit = fs.readFileSync(join(gitdir, ref), "utf8").trim()
    return /^[0-9a-f]{40}$/.test(commit) ? { ref, commit } : undefined
  } catch {
    return undefined
  }
}

/** Points a branch at a commit. */
export const writeRef = (gitdir: string, ref: string, commit: string) => replaceAtomically(join(gitdir, ref), Buffer.from(`${commit}\n`, "utf8"))

interface IndexEntry {
  readonly path: string
  /** The 62 bytes before the path: stat data, mode, oid and flags. */
  readonly fixed: Buffer
}

/** Index entries by path, when the index is version 2 (or 3 without extended entries) with no extensions but the optional tree cache. */
const readIndex = (gitdir: string): Map<string, IndexEntry> | undefined => {
  let raw: Buffer
  try {
    raw = fs.readFileSync(join(gitdir, "index"))
  } catch {
    return new Map()
  }
  if (raw.length < 32 || raw.toString("latin1", 0, 4) !== "DIRC") return undefined
  const version = raw.readUInt32BE(4)
  if (version !== 2 && version !== 3) return undefined
  const count = raw.readUInt32BE(8)
  const entries = new Map<string, IndexEntry>()
  let i = 12
  for (let n = 0; n < count; n++) {
    const flags = raw.readUInt16BE(i + 60)
    // extended flags (version 3) or a conflict stage: not the simple index written here
    if ((flags & 0x4000) !== 0 || (flags & 0x3000) !== 0) return undefined
    const nul = raw.indexOf(0, i + 62)
    const path = raw.toString("utf8", i + 62, nul)
    entries.set(path, { path, fixed: Buffer.from(raw.subarray(i, i + 62)) })
    const length = 62 + (nul - (i + 62))
    i += length + (8 - (length % 8))
  }
  // what follows must be only the tree cache (dropped: git rebuilds it) and the checksum
  const rest = raw.subarray(i, raw.length - 20)
  if (rest.length > 0 && rest.toString("latin1", 0, 4) !== "TREE") return undefined
  return entries
}

const writeIndex = (gitdir: string, entries: ReadonlyMap<string, IndexEntry>) => {
  const sorted = byBytes([...entries.values()], (e) => e.path)
  const header = Buffer.alloc(12)
  header.write("DIRC", 0, "latin1")
  header.writeUInt32BE(2, 4)
  header.writeUInt32BE(sorted.length, 8)
  const parts: Array<Buffer> = [header]
  for (const e of sorted) {
    const path = Buffer.from(e.path, "utf8")
    const length = 62 + path.length
    parts.push(e.fixed, path, Buffer.alloc(8 - (length % 8)))
  }
  const body = Buffer.concat(parts)
  replaceAtomically(join(gitdir, "index"), Buffer.concat([body, createHash("sha1").update(body).digest()]))
}

const u32 = (n: number | bigint) => Number(BigInt.asUintN(32, BigInt(n)))

/** The 62 fixed bytes of an index entry for a file as it is on disk now. */
const entryFor = (full: string, path: string, oid: string, mode: number): Buffer => {
  const st = fs.lstatSync(full, { bigint: true })
  const b = Buffer.alloc(62)
  const sec = (ns: bigint) => u32(ns / 1_000_000_000n)
  const nsec = (ns: bigint) => u32(ns % 1_000_000_000n)
  b.writeUInt32BE(sec(st.ctimeNs), 0)
  b.writeUInt32BE(nsec(st.ctimeNs), 4)
  b.writeUInt32BE(sec(st.mtimeNs), 8)
  b.writeUInt32BE(nsec(st.mtimeNs), 12)
  b.writeUInt32BE(u32(st.dev), 16)
  b.writeUInt32BE(u32(st.ino), 20)
  b.writeUInt32BE(mode, 24)
  b.writeUInt32BE(u32(st.uid), 28)
  b.writeUInt32BE(u32(st.gid), 32)
  b.writeUInt32BE(u32(st.size), 36)
  Buffer.from(oid, "hex").copy(b, 40)
  b.writeUInt16BE(Math.min(0xfff, Buffer.byteLength(path, "utf8")), 60)
  return b
}

/** The tree `tree` with the path set to `blob` (or removed); undefined for a tree left empty. Undefined throughout when a tree on the path is not loose. */
const withEntry = (gitdir: string, tree: string | undefined, segments: ReadonlyArray<string>, blob: TreeEntry | undefined): { readonly oid: string | undefined } | undefined => {
  let entries: Array<TreeEntry> = []
  if (tree !== undefined) {
    const object = readObject(gitdir, tree)
    if (object?.type !== "tree") return undefined
    entries = parseTree(object.content)
  }
  const [name, ...rest] = segments as [string, ...Array<string>]
  const others = entries.filter((e) => e.path !== name)
  let entry: TreeEntry | undefined
  if (rest.length === 0) entry = blob === undefined ? undefined : { ...blob, path: name }
  else {
    const child = entries.find((e) => e.path === name && e.mode === "040000")
    const sub = withEntry(gitdir, child?.oid, rest, blob)
    if (sub === undefined) return undefined
    entry = sub.oid === undefined ? undefined : { mode: "040000", path: name, oid: sub.oid }
  }
  const next = entry === undefined ? others : [...others, entry]
  return { oid: next.length === 0 ? undefined : writeObject(gitdir, "tree", serializeTree(next)) }
}

/**
 * Commits the worktree's current state of `paths` (written or gone) on HEAD's branch, and keeps
 * the index in step so `git status` stays clean. Undefined, having changed nothing a reader
 * would see, when the repository is not in the simple state this handles.
 */
export const commitPaths = (dir: string, gitdir: string, paths: ReadonlyArray<string>, message: string, author: Signature): string | undefined => {
  const head = headBranch(gitdir)
  if (head === undefined) return undefined
  let tree = treeOf(gitdir, head.commit)
  const index = readIndex(gitdir)
  if (tree === undefined || index === undefined) return undefined
  for (const path of paths) {
    const full = join(dir, path)
    const st = fs.lstatSync(full, { throwIfNoEntry: false })
    // a link or a folder where a file was: not the simple case
    if (st !== undefined && !st.isFile()) return undefined
    let blob: TreeEntry | undefined
    if (st !== undefined) {
      const executable = (st.mode & 0o111) !== 0
      const oid = writeObject(gitdir, "blob", fs.readFileSync(full))
      blob = { mode: executable ? "100755" : "100644", path, oid }
      index.set(path, { path, fixed: entryFor(full, path, oid, executable ? 0o100755 : 0o100644) })
    } else index.delete(path)
    const next = withEntry(gitdir, tree, path.split("/"), blob)
    if (next === undefined) return undefined
    tree = next.oid ?? writeObject(gitdir, "tree", Buffer.alloc(0))
  }
  const commit = writeObject(gitdir, "commit", serializeCommit({ tree, parents: [head.commit], author, committer: author, message }))
  writeIndex(gitdir, index)
  writeRef(gitdir, head.ref, commit)
  return commit
}
