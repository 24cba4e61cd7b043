/**
 * Workspace paths: which ones a request may name (`parse`, pure), and where one really points
 * on disk once symbolic links are followed (`resolveIn`). Anything that could reach outside the
 * workspace, or into its `.git`, is refused before a file is touched.
 */
import { Either } from "effect"
import { lstatSync, readlinkSync, realpathSync } from "node:fs"
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path"
import { AccessRefused, InvalidCommand } from "../shared/errors.js"

/** Longest path accepted, in characters. */
export const MAX_PATH_LENGTH = 4096

/** Longest file or directory name, in UTF-8 bytes: the file system's own limit (NAME_MAX). */
export const MAX_NAME_BYTES = 255

/** How many more percent-decodings are tried to find traversal hidden by double encoding. */
const DECODE_ROUNDS = 4

/** Symbolic links followed at most while resolving one path (the OS's own limit is 40). */
const MAX_LINK_HOPS = 40

/** The path as it appears in an error: quoted, escaped, and short. */
export const show = (path: string) => {
  const quoted = JSON.stringify(path)
  return quoted.length <= 200 ? quoted : `${quoted.slice(0, 200)}…"`
}

/** The path and each further percent-decoding of it, until it stops changing. */
const decodings = (path: string): ReadonlyArray<string> => {
  const forms = [path]
  let current = path
  for (let i = 0; i < DECODE_ROUNDS; i++) {
    let next: string
    try {
      next = decodeURIComponent(current)
    } catch {
      break
    }
    if (next === current) break
    forms.push(next)
    current = next
  }
  return forms
}

/** Why a form of a path could leave the workspace, or undefined. */
const escapeIn = (form: string): string | undefined => {
  if (form.includes("\0")) return "it contains a NUL byte"
  if (form.includes("\\")) return "it contains a backslash"
  if (form.startsWith("/")) return "it is absolute"
  if (form.split("/").includes("..")) return "it contains a '..' segment"
  return undefined
}

const isGitDir = (segment: string) => segment.toLowerCase() === ".git"

/**
 * Splits a workspace-relative path into its segments (empty and `.` segments dropped; no
 * segments is the root). Refused (AccessRefused): `..`, absolute paths, backslashes, NUL, the
 * same hidden under one or more rounds of percent-encoding, and anything under `.git`. Refused
 * (InvalidCommand): a path too long, or a name longer than the file system allows.
 */
export const parse = (path: string): Either.Either<ReadonlyArray<string>, AccessRefused | InvalidCommand> => {
  if (path.length > MAX_PATH_LENGTH) {
    return Either.left(new InvalidCommand({ message: `path is longer than ${MAX_PATH_LENGTH} characters` }))
  }
  for (const form of decodings(path)) {
    const why = escapeIn(form)
    if (why !== undefined) return Either.left(new AccessRefused({ message: `path ${show(path)} is refused: ${why}, which could leave the workspace` }))
  }
  const segments = path.split("/").filter((s) => s !== "" && s !== ".")
  const long = segments.find((s) => Buffer.byteLength(s, "utf8") > MAX_NAME_BYTES)
  if (long !== undefined) {
    return Either.left(
      new InvalidCommand({ message: `the name ${show(long)} is ${Buffer.byteLength(long, "utf8")} bytes long; the file system allows ${MAX_NAME_BYTES}` })
    )
  }
  if (segments.some(isGitDir)) {
    return Either.left(new AccessRefused({ message: `path ${show(path)} is refused: .git is git's place, never the workspace's files` }))
  }
  return Either.right(segments)
}

/** Where a path resolved to: its absolute real location and the same relative to the root. */
export interface Resolved {
  readonly absolute: string
  /** `/`-separated, relative to the root; "" for the root itself. */
  readonly relative: string
}

const code = (e: unknown) => (e as NodeJS.ErrnoException | undefined)?.code

const linkTarget = (path: string): string | undefined => {
  try {
    return lstatSync(path).isSymbolicLink() ? readlinkSync(path) : undefined
  } catch {
    return undefined
  }
}

/**
 * The real location of `target`: the realpath of its deepest existing ancestor with the rest
 * appended, a dangling link on the way followed by hand. Undefined for a symlink loop.
 */
const locate = (target: string, hops: number): string | undefined => {
  const missing: Array<string> = []
  let probe = target
  for (;;) {
    try {
      return join(realpathSync(probe), ...missing.reverse())
    } catch (e) {
      const c = code(e)
      if (c === "ELOOP") return undefined
      if (c !== "ENOENT" && c !== "ENOTDIR") throw e
    }
    const link = linkTarget(probe)
    if (link !== undefined) {
      // a dangling link: it exists, so its directory resolves
      if (hops >= MAX_LINK_HOPS) return undefined
      return locate(join(resolve(realpathSync(dirname(probe)), link), ...missing.reverse()), hops + 1)
    }
    const parent = dirname(probe)
    if (parent === probe) return join(probe, ...missing.reverse())
    missing.push(basename(probe))
    probe = parent
  }
}

/**
 * Where `segments` under `root` (a realpath) really point, following symbolic links anywhere
 * along the way as the OS would. Refused when that is outside the root or inside its `.git`.
 * Throws only on I/O errors other than a missing file.
 */
export const resolveIn = (root: string, segments: ReadonlyArray<string>): Either.Either<Resolved, AccessRefused> => {
  const shown = show(segments.join("/"))
  const located = locate(join(root, ...segments), 0)
  if (located === undefined) {
    return Either.left(new AccessRefused({ message: `path ${shown} is refused: its symbolic links loop` }))
  }
  const rel = relative(root, located)
  if (rel === ".." || rel.startsWith("../") || isAbsolute(rel)) {
    return Either.left(new AccessRefused({ message: `path ${shown} is refused: a symbolic link takes it outside the workspace` }))
  }
  if (rel.split("/").some(isGitDir)) {
    return Either.left(new AccessRefused({ message: `path ${shown} is refused: a symbolic link takes it into .git` }))
  }
  return Either.right({ absolute: located, relative: rel })
}
