/**
 * The workspace: the agents' files under `DataDir.workspace`, a git repository. Every write is
 * a commit and an event; paths that would leave the workspace are refused and the refusal is
 * recorded as an access decision.
 *
 * Order of a write, and what a crash at each step leaves:
 *   1. the content goes to a temporary file in `<workspace.git>/annal-tmp/` and is renamed over the
 *      target (atomic: the file holds the old content or the new, never a mix);
 *   2. the file is committed (isomorphic-git add + commit);
 *   3. `workspace_file_written` (path, size, sha256, blob, commit) is appended through the command
 *      handler and its commit awaited; only then is the write answered.
 * All three hold the repository. A process that dies after step 1 leaves an uncommitted change,
 * after step 2 a commit the log does not name; on the next start, before serving, the workspace
 * is reconciled with the log: uncommitted changes are committed, and every file whose content in
 * HEAD differs from the log's view is recorded in one `workspace_reconciled` event (actor
 * `system`). The same recovers changes made behind the API's back. So the log always ends up
 * naming what the repository holds, and nothing in the workspace goes unrecorded.
 */
import { SqlClient } from "@effect/sql"
import type { GitRestored, TreeEntry } from "@annal/spec"
import { EventStore, type EventStoreError } from "@annal/store"
import { Context, Data, Effect, Either, Layer, Schema } from "effect"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import { dirname, join } from "node:path"
import { Access } from "../access/Access.js"
import { actorName } from "../audit/AuditEntry.js"
import { GitError, GitRepository } from "../git/GitRepository.js"
import { appendDecided, type CommandContext, query } from "../shared/Command.js"
import { commandHandler, eventOf } from "../shared/CommandHandler.js"
import { AccessRefused, type ConcurrentChange, EntityNotFound, InvalidCommand } from "../shared/errors.js"
import { readData } from "../shared/EventData.js"
import { diffFiles, fileVersion, reconcile, restored, written } from "./decide.js"
import { fileStream, WORKSPACE_FILE_RESTORED, WORKSPACE_FILE_WRITTEN, WORKSPACE_STREAM, WorkspaceFileRestored, WorkspaceFileWritten } from "./events.js"
import { WorkspaceFileRow, WorkspaceHeadRow } from "./projection.js"
import { parse, type Resolved, resolveIn, show } from "./WorkspacePath.js"

const FileBlob = WorkspaceFileRow.pipe(Schema.pick("path", "blob"))

/** A file in the workspace could not be read or written (I/O). */
export class WorkspaceIOError extends Data.TaggedError("WorkspaceIOError")<{ readonly message: string; readonly cause?: unknown }> {}

/** Any way a workspace operation can fail. */
export type WorkspaceFailure =
  | AccessRefused
  | EntityNotFound
  | InvalidCommand
  | ConcurrentChange
  | WorkspaceIOError
  | GitError
  | EventStoreError

/** The commit message of a write. */
export const writeMessage = (path: string) => `write ${path}`

/** The commit message of a restore. */
export const restoreMessage = (path: string, from: string) => `restore ${path} from ${from.slice(0, 12)}`

/** The commit message recording changes found at start. */
export const RECONCILE_MESSAGE = "record changes found in the workspace at start"

const code = (e: unknown) => (e as NodeJS.ErrnoException | undefined)?.code

/**
 * An I/O failure as the workspace's error. A name or path the file system finds too long is the
 * request's fault (InvalidCommand, a 400), whichever call met it.
 */
const io = (what: string) => (cause: unknown): WorkspaceIOError | InvalidCommand =>
  code(cause) === "ENAMETOOLONG"
    ? new InvalidCommand({ message: `${what}: the path is longer than the file system allows` })
    : new WorkspaceIOError({ message: `${what}: ${cause instanceof Error ? cause.message : String(cause)}`, cause })

/** Directories first, then files; each group by name in code-point order. */
export const sortEntries = (entries: ReadonlyArray<TreeEntry>): ReadonlyArray<TreeEntry> =>
  [...entries].sort((a, b) => (a.is_dir !== b.is_dir ? (a.is_dir ? -1 : 1) : a.name < b.name ? -1 : a.name > b.name ? 1 : 0))

export class Workspace extends Context.Tag("@annal/kernel/Workspace")<
  Workspace,
  {
    /** The workspace's real path. */
    readonly root: string
    /** The entries of a directory (`""` is the root), `.git` left out, sorted. */
    readonly tree: (dir: string, context: CommandContext) => Effect.Effect<ReadonlyArray<TreeEntry>, WorkspaceFailure>
    /** A file's bytes. */
    readonly read: (path: string, context: CommandContext) => Effect.Effect<Uint8Array, WorkspaceFailure>
    /** Writes a file (creating its directories), commits it, and records `workspace_file_written`. */
    readonly write: (path: string, content: Uint8Array, context: CommandContext) => Effect.Effect<WorkspaceFileWritten, WorkspaceFailure>
    /** Waits until the write or restore in progress, if any, is committed (for what reads the repository, like a process running git). */
    readonly settled: Effect.Effect<void>
    /** Writes a file's content at commit `hash` back, commits it, and records `workspace_file_restored`. */
    readonly restore: (hash: string, path: string, context: CommandContext) => Effect.Effect<GitRestored, WorkspaceFailure>
    /** Start-up: the repository reconciled with the log (see the module's comment); says what it did. */
    readonly recover: Effect.Effect<string>
  }
>() {
  /** The workspace over its repository; `recover` reconciles it with the log before it serves. */
  static readonly layer = Layer.scoped(
    Workspace,
    Effect.gen(function*() {
      const repo = yield* GitRepository
      const access = yield* Access
      const sql = yield* SqlClient.SqlClient
      const root = repo.dir

      const store = yield* EventStore
      /** Where new contents are written before they are renamed into place: same filesystem, never in the tree. */
      const tmpDir = join(repo.gitdir, "annal-tmp")
      const withStore = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient | EventStore>) =>
        effect.pipe(Effect.provideService(SqlClient.SqlClient, sql), Effect.provideService(EventStore, store))

      /**
       * Records a refusal as an access decision (best effort: the refusal stands either way).
       * Without the request's Idempotency-Key, which belongs to the write it asked for.
       */
      const refusalRecorded = (action: string, path: string, context: CommandContext) =>
      <A, E extends WorkspaceFailure, R>(self: Effect.Effect<A, E, R>) =>
        Effect.tapError(self, (e) => {
          if (e._tag !== "AccessRefused") return Effect.void
          const { idempotency_key: _key, ...meta } = context.meta ?? {}
          const decision = {
            subject: actorName(context.actor),
            action,
            resource: JSON.stringify(path).slice(1, -1).slice(0, 256),
            allowed: false,
            reason: e.message
          }
          return access.record(decision, { actor: context.actor, meta }).pipe(
            Effect.catchAll((cause) => Effect.logWarning("could not record a refused workspace path", cause))
          )
        })

      const locate = (path: string): Effect.Effect<Resolved, AccessRefused | InvalidCommand | WorkspaceIOError> =>
        Effect.gen(function*() {
          const segments = yield* parse(path)
          const resolved = yield* Effect.try({ try: () => resolveIn(root, segments), catch: io(`could not resolve ${show(path)}`) })
          return yield* resolved
        })

      const locateFile = (path: string) =>
        Effect.filterOrFail(locate(path), (r) => r.relative !== "", () => new InvalidCommand({ message: "a file path is required" }))

      /** Replaces the file's content atomically, keeping its mode; creates missing directories. */
      const replaceFile = (target: Resolved, content: Uint8Array) =>
        Effect.try({
          try: () => {
            let mode = 0o644
            try {
              const existing = fs.statSync(target.absolute)
              if (existing.isDirectory()) return Either.left(new InvalidCommand({ message: `${show(target.relative)} is a directory` }))
              mode = existing.mode & 0o777
            } catch (e) {
              if (code(e) === "ENOTDIR") return Either.left(new InvalidCommand({ message: `a parent of ${show(target.relative)} is a file` }))
              if (code(e) !== "ENOENT") throw e
            }
            try {
              fs.mkdirSync(dirname(target.absolute), { recursive: true })
            } catch (e) {
              if (code(e) === "EEXIST" || code(e) === "ENOTDIR") {
                return Either.left(new InvalidCommand({ message: `a parent of ${show(target.relative)} is a file` }))
              }
              throw e
            }
            fs.mkdirSync(tmpDir, { recursive: true })
            const tmp = join(tmpDir, randomUUID())
            const fd = fs.openSync(tmp, "wx", mode)
            try {
              fs.writeSync(fd, content)
              fs.fsyncSync(fd)
            } finally {
              fs.closeSync(fd)
            }
            try {
              fs.renameSync(tmp, target.absolute)
            } catch (e) {
              fs.rmSync(tmp, { force: true })
              throw e
            }
            return Either.right(undefined)
          },
          catch: io(`could not write ${show(target.relative)}`)
        }).pipe(Effect.flatMap((result) => result))

      const tree = (dir: string, context: CommandContext) =>
        Effect.gen(function*() {
          const target = yield* locate(dir)
          const stat = yield* Effect.try({
            try: () => fs.statSync(target.absolute, { throwIfNoEntry: false }),
            catch: io(`could not read ${show(dir)}`)
          })
          if (stat === undefined || !stat.isDirectory()) return yield* new EntityNotFound({ what: "directory", id: dir })
          return yield* Effect.try({
            try: () => {
              const entries: Array<TreeEntry> = []
              for (const entry of fs.readdirSync(target.absolute, { withFileTypes: true })) {
                if (entry.name.toLowerCase() === ".git") continue
                if (entry.isDirectory()) entries.push({ name: entry.name, is_dir: true, size: 0 })
                else if (entry.isFile()) entries.push({ name: entry.name, is_dir: false, size: fs.statSync(join(target.absolute, entry.name)).size })
                else if (entry.isSymbolicLink()) {
                  // shown for what it points at, but only when that is inside the workspace
                  const inside = resolveIn(root, target.relative === "" ? [entry.name] : [...target.relative.split("/"), entry.name])
                  const pointed = Either.isRight(inside) ? fs.statSync(inside.right.absolute, { throwIfNoEntry: false }) : undefined
                  entries.push({ name: entry.name, is_dir: pointed?.isDirectory() ?? false, size: pointed?.isFile() ? pointed.size : 0 })
                } else entries.push({ name: entry.name, is_dir: false, size: 0 })
              }
              return sortEntries(entries)
            },
            catch: io(`could not list ${show(dir)}`)
          })
        }).pipe(refusalRecorded("list_dir", dir, context))

      const read = (path: string, context: CommandContext) =>
        Effect.gen(function*() {
          const target = yield* locateFile(path)
          const content = yield* Effect.try({
            try: () => {
              const stat = fs.statSync(target.absolute, { throwIfNoEntry: false })
              return stat === undefined || !stat.isFile() ? undefined : new Uint8Array(fs.readFileSync(target.absolute))
            },
            catch: (e) => (code(e) === "ENOTDIR" ? new EntityNotFound({ what: "file", id: path }) : io(`could not read ${show(path)}`)(e))
          })
          if (content === undefined) return yield* new EntityNotFound({ what: "file", id: path })
          return content
        }).pipe(refusalRecorded("read_path", path, context))

      const handle = commandHandler(store)

      /** A write: the file placed and committed (the repository held by the caller), then recorded. */
      const writeCommand = handle({
        stream: (command: { readonly target: Resolved; readonly content: Uint8Array }) => fileStream(command.target.relative),
        load: ({ target, content }) =>
          Effect.gen(function*() {
            yield* replaceFile(target, content)
            return { version: fileVersion(target.relative, content), commit: yield* repo.commitPaths([target.relative], writeMessage(target.relative)) }
          }),
        decide: (_, { commit, version }) => Either.right([written(version, commit)]),
        emits: [WORKSPACE_FILE_WRITTEN],
        answer: (events) => readData(WorkspaceFileWritten, eventOf(events, WORKSPACE_FILE_WRITTEN)!)
      })

      const write = (path: string, content: Uint8Array, context: CommandContext) =>
        repo.locked(Effect.flatMap(locateFile(path), (target) => writeCommand({ target, content }, context))).pipe(refusalRecorded("write_path", path, context))

      /** A restore: the file's content at a commit placed and committed, then recorded. */
      const restoreCommand = handle({
        stream: (command: { readonly target: Resolved; readonly hash: string; readonly path: string }) => fileStream(command.target.relative),
        load: ({ target, hash, path }) =>
          Effect.gen(function*() {
            const from = yield* repo.resolveCommit(hash)
            // the file as the commit names it; where it goes now is `target`
            const content = yield* repo.readFileAt(from, (yield* parse(path)).join("/"))
            yield* replaceFile(target, content)
            return { from, version: fileVersion(target.relative, content), commit: yield* repo.commitPaths([target.relative], restoreMessage(target.relative, from)) }
          }),
        decide: (_, { commit, from, version }) => Either.right([restored(version, from, commit)]),
        emits: [WORKSPACE_FILE_RESTORED],
        answer: (events, { hash, path }) =>
          Effect.map(readData(WorkspaceFileRestored, eventOf(events, WORKSPACE_FILE_RESTORED)!), (d): GitRestored => ({ restored: path, from: hash, commit: d.commit }))
      })

      const restore = (hash: string, path: string, context: CommandContext) =>
        repo.locked(Effect.flatMap(locateFile(path), (target) => restoreCommand({ target, hash, path }, context))).pipe(refusalRecorded("restore_path", path, context))

      // Reconciled before serving (the start-up sequence runs it): see the module's comment.
      const recover = repo.locked(
        Effect.gen(function*() {
          // the commit the log names last: the repository to keep is the one that holds it
          const named = yield* withStore(query("workspace_head", WorkspaceHeadRow, (sql) => sql`SELECT * FROM workspace_head WHERE id = 1`))
          const { created } = yield* repo.ensure(named[0]?.commit_oid)
          // a write cut short before its rename leaves only a temporary file
          yield* Effect.try({ try: () => fs.rmSync(tmpDir, { recursive: true, force: true }), catch: io(`could not clear ${tmpDir}`) })
          yield* repo.commitAll(RECONCILE_MESSAGE)
          const head = yield* repo.head
          const actual = yield* repo.files(head)
          const rows = yield* withStore(query("workspace_files", FileBlob, (sql) => sql`SELECT path, blob FROM workspace_files`))
          const diff = diffFiles(new Map(rows.map((r) => [r.path, r.blob])), actual)
          const versions = yield* Effect.forEach(diff.changed, (path) => Effect.map(repo.readBlob(actual.get(path)!), (content) => fileVersion(path, content)))
          const event = reconcile({ commit: head, initialized: created }, versions, diff.deleted)
          if (event !== undefined) yield* withStore(appendDecided(WORKSPACE_STREAM, "any", [event], { actor: "system" }))
          const recorded = event === undefined
            ? "the repository matches the log"
            : `${versions.length} files the log did not name recorded, ${diff.deleted.length} removed`
          return created ? `repository created at ${root}; ${recorded}` : recorded
        })
      ).pipe(
        // like a broken event chain, a broken repository is reported, not fatal: POST /api/git/verify says what is wrong
        Effect.catchAll((e) => Effect.as(Effect.logError(`WORKSPACE NOT RECONCILED with the log: ${e.message}`, e), `NOT reconciled: ${e.message}`))
      )

      return Workspace.of({ root, tree, read, write, settled: repo.locked(Effect.void), restore, recover })
    })
  )
}
