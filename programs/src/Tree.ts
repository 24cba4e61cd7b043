/**
 * An installed program's tree: checked (regular files, directories and symbolic links that stay
 * inside it — nothing else — within the size and file-count limits) and digested. The sha256
 * recorded in `program_installed` is `sha256` over one line per entry in path order:
 * `d <path>\n` for a directory, `f <x|-> <sha256 of the content> <path>\n` for a file (`x` when
 * executable), `l <target> <path>\n` for a symbolic link.
 */
import { createHash } from "node:crypto"
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs"
import { join, posix } from "node:path"
import { Data, Either } from "effect"

/** The source or its content was refused; the message says why (HTTP 400). */
export class InstallRefused extends Data.TaggedError("InstallRefused")<{ readonly message: string }> {}

export interface Limits {
  /** Entries (files, directories, links) at most. */
  readonly maxEntries: number
  /** Bytes of file content at most. */
  readonly maxBytes: number
  /** Bytes downloaded (a tarball, a git pack) at most. */
  readonly maxDownloadBytes: number
}

export const DEFAULT_LIMITS: Limits = { maxEntries: 5000, maxBytes: 50 * 1024 * 1024, maxDownloadBytes: 20 * 1024 * 1024 }

export interface TreeInfo {
  readonly sha256: string
  readonly entries: number
  readonly bytes: number
}

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex")

/** Whether a link at `path` (relative to the root) pointing to `target` stays inside the root. */
export const linkStaysInside = (path: string, target: string): boolean => {
  if (target === "" || target.includes("\0") || posix.isAbsolute(target)) return false
  const resolved = posix.normalize(posix.join(posix.dirname(path), target))
  return resolved !== ".." && !resolved.startsWith("../")
}

/** Checks and digests the tree at `root`; never follows a link. */
export const inspectTree = (root: string, limits: Limits = DEFAULT_LIMITS): Either.Either<TreeInfo, InstallRefused> => {
  const refuse = (message: string) => Either.left(new InstallRefused({ message }))
  const lines: Array<readonly [string, string]> = []
  let entries = 0
  let bytes = 0
  const stack: Array<string> = [""]
  while (stack.length > 0) {
    const dir = stack.pop()!
    const names = readdirSync(join(root, dir)).sort()
    const subdirs: Array<string> = []
    for (const name of names) {
      const path = dir === "" ? name : `${dir}/${name}`
      if (/[\x00-\x1f\x7f]/.test(name)) return refuse(`the name ${JSON.stringify(path)} has a control character`)
      if (++entries > limits.maxEntries) return refuse(`the program has more than ${limits.maxEntries} files and directories`)
      const stat = lstatSync(join(root, path))
      if (stat.isDirectory()) {
        lines.push([path, `d ${path}\n`])
        subdirs.push(path)
      } else if (stat.isFile()) {
        bytes += stat.size
        if (bytes > limits.maxBytes) return refuse(`the program's files are larger than ${limits.maxBytes} bytes in all`)
        lines.push([path, `f ${(stat.mode & 0o111) !== 0 ? "x" : "-"} ${sha256(readFileSync(join(root, path)))} ${path}\n`])
      } else if (stat.isSymbolicLink()) {
        const target = readlinkSync(join(root, path))
        if (!linkStaysInside(path, target)) return refuse(`the link ${path} points outside the program (to ${target})`)
        lines.push([path, `l ${target} ${path}\n`])
      } else {
        return refuse(`${path} is not a regular file, directory or link`)
      }
    }
    stack.push(...subdirs.reverse())
  }
  // path order over the whole tree, whatever order the walk found them in
  lines.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return Either.right({ sha256: sha256(lines.map(([, line]) => line).join("")), entries, bytes })
}
