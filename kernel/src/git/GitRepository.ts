/**
 * The workspace's git repository (isomorphic-git over the real files): create it, commit,
 * read history and old contents, and check its integrity. One operation at a time: git's index
 * and refs are files that two writers would corrupt.
 */
import type { GitLogEntry, GitVerify } from "@annal/spec"
import { Context, Data, Effect, FiberRef, Layer } from "effect"
import git, { type ReadCommitResult } from "isomorphic-git"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { dirname, join } from "node:path"
import { DataDir } from "../shared/DataDir.js"
import { EntityNotFound, InvalidCommand } from "../shared/errors.js"

/** Reading or writing the repository failed (I/O, a corrupt object). */
export class GitError extends Data.TaggedError("GitError")<{ readonly message: string; readonly cause?: unknown }> {}

/** Who Annal's commits are by. */
export const AUTHOR = { name: "annal", email: "annal@localhost" } as const

/** The branch a new workspace repository starts on. */
export const DEFAULT_BRANCH = "main"

/** The first commit of a new workspace. */
export const INITIAL_MESSAGE = "initialize workspace"

/** `2026-05-17T10:30:00+00:00`: a git time (seconds, offset in minutes west of UTC as isomorphic-git gives it). */
export const formatGitTime = (timestamp: number, timezoneOffset: number): string => {
  const local = new Date((timestamp - timezoneOffset * 60) * 1000).toISOString().slice(0, 19)
  const east = -timezoneOffset
  const abs = Math.abs(east)
  const pad = (n: number) => String(n).padStart(2, "0")
  return `${local}${east >= 0 ? "+" : "-"}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
}

/** The id git gives an object: sha1 of `<type> <length>\0<content>`. */
export const objectId = (type: string, content: Uint8Array): string =>
  createHash("sha1").update(`${type} ${content.length}\0`).update(content).digest("hex")

const errorCode = (e: unknown): string | undefined =>
  typeof e === "object" && e !== null && "code" in e && typeof (e as { code: unknown }).code === "string" ? (e as { code: string }).code : undefined

const describe = (e: unknown) => (e instanceof Error ? e.message : String(e))

const isRegularFile = (mode: string) => mode === "100644" || mode === "100755"

export interface GitRepositoryService {
  /** The worktree's real path. */
  readonly dir: string
  /** The repository's own directory (git's `GIT_DIR`), outside the worktree. */
  readonly gitdir: string
  /** Runs `effect` holding the repository (reentrant): compose several steps into one. */
  readonly locked: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /**
   * Creates the repository with a first commit when there is none; says whether it did. Given
   * the commit the log names last (`known`), an earlier version's repository inside the worktree
   * (`<worktree>/.git`) that holds it is moved out to `gitdir` first, history kept; a `.git`
   * that does not hold it is someone else's, and left alone.
   */
  readonly ensure: (known: string | undefined) => Effect.Effect<{ readonly created: boolean }, GitError>
  /** The commit HEAD points at. */
  readonly head: Effect.Effect<string, GitError>
  /** Commits every difference between the worktree and HEAD; the new commit, or undefined when clean. */
  readonly commitAll: (message: string) => Effect.Effect<string | undefined, GitError>
  /** Stages these paths (added, changed or gone) and commits them; the new commit. */
  readonly commitPaths: (paths: ReadonlyArray<string>, message: string) => Effect.Effect<string, GitError>
  /** The regular files of a commit: path → blob id. */
  readonly files: (commit: string) => Effect.Effect<ReadonlyMap<string, string>, GitError>
  /** A blob's bytes. */
  readonly readBlob: (oid: string) => Effect.Effect<Uint8Array, GitError>
  /** The full id of the commit a hash or unique prefix names. */
  readonly resolveCommit: (hash: string) => Effect.Effect<string, EntityNotFound | InvalidCommand | GitError>
  /** A file's bytes as a commit holds it. */
  readonly readFileAt: (commit: string, path: string) => Effect.Effect<Uint8Array, EntityNotFound | GitError>
  /**
   * Commits from HEAD, newest first; given a path (`/`-separated, relative to the worktree),
   * only those whose first parent held it otherwise (written, changed, removed), as `git log
   * --first-parent -- <path>` lists them.
   */
  readonly log: (limit: number, path?: string) => Effect.Effect<ReadonlyArray<GitLogEntry>, GitError>
  /** Every tag, by name. */
  readonly tags: Effect.Effect<ReadonlyArray<string>, GitError>
  /** Reads and hashes every object reachable from HEAD, the branches and the tags. */
  readonly verify: Effect.Effect<GitVerify>
}

/** The repository in `gitdir` of a worktree (which must exist). */
export const make = (dir: string, gitdir: string): GitRepositoryService => {
  const semaphore = Effect.unsafeMakeSemaphore(1)
  const holding = FiberRef.unsafeMake(false)
  const locked = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.flatMap(FiberRef.get(holding), (held) =>
      held ? effect : semaphore.withPermits(1)(Effect.locally(effect, holding, true)))
  const attempt = <A>(what: string, run: () => Promise<A>) =>
    Effect.tryPromise({ try: run, catch: (cause) => new GitError({ message: `${what}: ${describe(cause)}`, cause }) })
  const repo = { fs, dir, gitdir }
  const author = () => ({ ...AUTHOR, timestamp: Math.floor(Date.now() / 1000), timezoneOffset: 0 })

  const head = attempt("could not resolve HEAD", () => git.resolveRef({ ...repo, ref: "HEAD" }))

  // `git --git-dir <gitdir>` finds the worktree by itself
  const worktreeNamed = async () => {
    if ((await git.getConfig({ ...repo, path: "core.worktree" })) !== dir) await git.setConfig({ ...repo, path: "core.worktree", value: dir })
  }

  /** Whether a repository in `at` has the object `oid` (loose or packed). */
  const holds = async (at: string, oid: string) => {
    try {
      await git.readObject({ fs, dir, gitdir: at, oid, format: "deflated" })
      return true
    } catch {
      return false
    }
  }

  const ensure = (known: string | undefined) => locked(
    attempt("could not create the workspace repository", async () => {
      // writes are renamed from gitdir/annal-tmp into the worktree: one filesystem for both
      const parent = dirname(gitdir)
      fs.mkdirSync(parent, { recursive: true })
      if (fs.statSync(parent).dev !== fs.statSync(dir).dev) {
        throw new Error(`the workspace ${dir} is on another filesystem than ${parent}, where its repository is kept: keep the workspace inside the data directory`)
      }
      const headFile = join(gitdir, "HEAD")
      const earlier = join(dir, ".git")
      // a data directory of an earlier version kept the repository inside the worktree
      if (!fs.existsSync(headFile) && known !== undefined && fs.lstatSync(earlier, { throwIfNoEntry: false })?.isDirectory() === true &&
        await holds(earlier, known)) {
        // what is there without a HEAD is a repository never made (a crash while creating it)
        fs.rmSync(gitdir, { recursive: true, force: true })
        fs.renameSync(earlier, gitdir)
      }
      if (fs.existsSync(headFile)) {
        await worktreeNamed()
        try {
          await git.resolveRef({ ...repo, ref: "HEAD" })
          return { created: false }
        } catch (e) {
          // a repository created but never committed to (a crash during the first start)
          if (errorCode(e) !== "NotFoundError") throw e
        }
      } else {
        fs.rmSync(gitdir, { recursive: true, force: true })
        await git.init({ ...repo, defaultBranch: DEFAULT_BRANCH })
        await worktreeNamed()
      }
      const rows = await git.statusMatrix(repo)
      for (const [filepath] of rows) await git.add({ ...repo, filepath })
      await git.commit({ ...repo, message: INITIAL_MESSAGE, author: author() })
      return { created: true }
    })
  )

  const commitAll = (message: string) =>
    locked(
      attempt("could not commit the workspace", async () => {
        let changed = false
        for (const [filepath, inHead, inWorkdir, inStage] of await git.statusMatrix(repo)) {
          if (inHead === 1 && inWorkdir === 1) {
            // a stray staged change of a file the worktree has as committed
            if (inStage !== 1) await git.resetIndex({ ...repo, filepath })
            continue
          }
          changed = true
          if (inWorkdir === 0) await git.remove({ ...repo, filepath })
          else await git.add({ ...repo, filepath })
        }
        return changed ? await git.commit({ ...repo, message, author: author() }) : undefined
      })
    )

  const commitPaths = (paths: ReadonlyArray<string>, message: string) =>
    locked(
      attempt("could not commit", async () => {
        for (const filepath of paths) {
          // `force`: a file written on purpose is committed even if a .gitignore matches it
          if (fs.existsSync(`${dir}/${filepath}`)) await git.add({ ...repo, filepath, force: true })
          else await git.remove({ ...repo, filepath })
        }
        return await git.commit({ ...repo, message, author: author() })
      })
    )

  const files = (commit: string) =>
    attempt("could not read a commit's files", async () => {
      const out = new Map<string, string>()
      const cache = {}
      const walk = async (oid: string, prefix: string): Promise<void> => {
        const { tree } = await git.readTree({ ...repo, oid, cache })
        for (const entry of tree) {
          if (entry.type === "tree") await walk(entry.oid, `${prefix}${entry.path}/`)
          else if (entry.type === "blob" && isRegularFile(entry.mode)) out.set(`${prefix}${entry.path}`, entry.oid)
        }
      }
      const { commit: parsed } = await git.readCommit({ ...repo, oid: commit, cache })
      await walk(parsed.tree, "")
      return out as ReadonlyMap<string, string>
    })

  const readBlob = (oid: string) => attempt("could not read a blob", async () => (await git.readBlob({ ...repo, oid })).blob)

  const resolveCommit = (hash: string) =>
    Effect.tryPromise({
      try: async () => {
        const oid = await git.expandOid({ ...repo, oid: hash.toLowerCase() })
        const { type } = await git.readObject({ ...repo, oid, format: "content" })
        if (type !== "commit") throw Object.assign(new Error(`${hash} is a ${type}`), { code: "NotFoundError" })
        return oid
      },
      catch: (cause): EntityNotFound | InvalidCommand | GitError => {
        const code = errorCode(cause)
        if (code === "NotFoundError") return new EntityNotFound({ what: "commit", id: hash })
        if (code === "AmbiguousError") return new InvalidCommand({ message: `hash ${hash} names more than one object; give more digits` })
        return new GitError({ message: `could not read commit ${hash}: ${describe(cause)}`, cause })
      }
    })

  const readFileAt = (commit: string, path: string) =>
    Effect.tryPromise({
      try: async () => (await git.readBlob({ ...repo, oid: commit, filepath: path })).blob,
      catch: (cause): EntityNotFound | GitError => {
        const code = errorCode(cause)
        if (code === "NotFoundError" || code === "ObjectTypeError") {
          return new EntityNotFound({ what: `file in commit ${commit.slice(0, 12)}`, id: path })
        }
        return new GitError({ message: `could not read ${path} at ${commit}: ${describe(cause)}`, cause })
      }
    })

  const entryOf = (oid: string, commit: ReadCommitResult["commit"]): GitLogEntry => ({
    hash: oid,
    author: commit.author.name,
    message: commit.message.trimEnd(),
    timestamp: formatGitTime(commit.author.timestamp, commit.author.timezoneOffset)
  })

  /** What a tree holds at `segments`: `<mode> <oid>`, or undefined when nothing is there. */
  const entryAt = async (tree: string, segments: ReadonlyArray<string>, cache: object): Promise<string | undefined> => {
    let oid = tree
    for (const [i, segment] of segments.entries()) {
      const entry = (await git.readTree({ ...repo, oid, cache })).tree.find((e) => e.path === segment)
      if (entry === undefined) return undefined
      if (i === segments.length - 1) return `${entry.mode} ${entry.oid}`
      if (entry.type !== "tree") return undefined
      oid = entry.oid
    }
    return undefined
  }

  /**
   * The commits of the first-parent line from HEAD whose `path` differs from their parent's.
   * (isomorphic-git's own `log({ filepath })` misses a removal when the file later comes back
   * with the same content.)
   */
  const logOf = async (limit: number, segments: ReadonlyArray<string>) => {
    const cache = {}
    const out: Array<GitLogEntry> = []
    let oid = await git.resolveRef({ ...repo, ref: "HEAD" })
    let { commit } = await git.readCommit({ ...repo, oid, cache })
    let here = await entryAt(commit.tree, segments, cache)
    while (out.length < limit) {
      const parentOid = commit.parent[0]
      const parent = parentOid === undefined ? undefined : (await git.readCommit({ ...repo, oid: parentOid, cache })).commit
      const before = parent === undefined ? undefined : await entryAt(parent.tree, segments, cache)
      if (here !== before) out.push(entryOf(oid, commit))
      if (parent === undefined || parentOid === undefined) break
      oid = parentOid
      commit = parent
      here = before
    }
    return out
  }

  const log = (limit: number, path?: string) =>
    locked(
      attempt("could not read the log", async () => {
        const segments = path === undefined ? [] : path.split("/").filter((s) => s !== "")
        if (segments.length > 0) return logOf(limit, segments)
        const commits = await git.log({ ...repo, depth: limit, cache: {} })
        return commits.map(({ oid, commit }) => entryOf(oid, commit))
      })
    )

  const tags = locked(attempt("could not list the tags", async () => (await git.listTags(repo)).sort()))

  const verify = locked(
    Effect.promise(async (): Promise<GitVerify> => {
      const cache = {}
      const seen = new Set<string>()
      let commits = 0
      const pending: Array<readonly [oid: string, type: string]> = []
      try {
        pending.push([await git.resolveRef({ ...repo, ref: "HEAD" }), "commit"])
        for (const branch of await git.listBranches(repo)) {
          pending.push([await git.resolveRef({ ...repo, ref: `refs/heads/${branch}` }), "commit"])
        }
        for (const tag of await git.listTags(repo)) {
          // an annotated tag's ref names the tag object, a lightweight one the commit
          const oid = await git.resolveRef({ ...repo, ref: `refs/tags/${tag}` })
          const { type } = await git.readObject({ ...repo, oid, format: "content", cache })
          pending.push([oid, type])
        }
        for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
          const [oid, expected] = next
          if (seen.has(oid)) continue
          seen.add(oid)
          const { type, object } = await git.readObject({ ...repo, oid, format: "content", cache })
          if (type !== expected) throw new Error(`object ${oid} is a ${type}, where a ${expected} was expected`)
          if (!(object instanceof Uint8Array)) throw new Error(`object ${oid} could not be read as bytes`)
          // loose objects are hashed by isomorphic-git already; packed ones are not
          const actual = objectId(type, object)
          if (actual !== oid) throw new Error(`object ${oid} hashes to ${actual}`)
          if (type === "commit") {
            commits++
            const { commit } = await git.readCommit({ ...repo, oid, cache })
            pending.push([commit.tree, "tree"])
            for (const parent of commit.parent) pending.push([parent, "commit"])
          } else if (type === "tree") {
            const { tree } = await git.readTree({ ...repo, oid, cache })
            // a gitlink (submodule) names a commit of another repository
            for (const entry of tree) if (entry.type !== "commit") pending.push([entry.oid, entry.type])
          } else if (type === "tag") {
            const { tag } = await git.readTag({ ...repo, oid, cache })
            pending.push([tag.object, tag.type])
          }
        }
        return { valid: true, commits_checked: commits, objects_checked: seen.size }
      } catch (e) {
        return { valid: false, commits_checked: commits, objects_checked: seen.size, problem: describe(e) }
      }
    })
  )

  return { dir, gitdir, locked, ensure, head, commitAll, commitPaths, files, readBlob, resolveCommit, readFileAt, log, tags, verify }
}

export class GitRepository extends Context.Tag("@annal/kernel/GitRepository")<GitRepository, GitRepositoryService>() {
  /** The repository `DataDir.workspaceGit` of `DataDir.workspace` (the directory is created; the repository by `ensure`). */
  static readonly layer = Layer.effect(
    GitRepository,
    Effect.map(DataDir, (paths) => {
      fs.mkdirSync(paths.workspace, { recursive: true, mode: 0o700 })
      return make(fs.realpathSync(paths.workspace), paths.workspaceGit)
    })
  )
}
