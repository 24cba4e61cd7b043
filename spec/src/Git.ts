/** The workspace's git history (seed section 16): log, tags, integrity, restoring a file. */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Authorization } from "./Auth.js"
import { BadRequest, Forbidden, NotFound } from "./Errors.js"
import { servedByExtension } from "./Workspace.js"

/** Commits `GET /api/git/log` returns at most. */
export const GIT_LOG_LIMIT = 100

export const GitLogEntry = Schema.Struct({
  /** The full commit id (40 hex digits). */
  hash: Schema.String,
  author: Schema.String,
  message: Schema.String,
  /** The author's time, ISO 8601 with the author's UTC offset, e.g. `2026-05-17T10:30:00+00:00`. */
  timestamp: Schema.String
}).annotations({ identifier: "GitLogEntry" })
export type GitLogEntry = typeof GitLogEntry.Type

export const GitLog = Schema.Struct({ entries: Schema.Array(GitLogEntry) }).annotations({ identifier: "GitLog" })

export const GitTags = Schema.Struct({ tags: Schema.Array(Schema.String) }).annotations({ identifier: "GitTags" })

export const GitVerify = Schema.Struct({
  valid: Schema.Boolean,
  /** Commits read (reachable from HEAD, branches and tags). */
  commits_checked: Schema.Number,
  /** Objects read and hashed: commits, trees, blobs, tags. */
  objects_checked: Schema.Number,
  /** What is wrong, when not valid. */
  problem: Schema.optional(Schema.String)
}).annotations({ identifier: "GitVerify" })
export type GitVerify = typeof GitVerify.Type

/** A commit hash as a request names it: 4 to 40 hexadecimal digits (a unique prefix suffices). */
export const CommitHash = Schema.String.pipe(
  Schema.pattern(/^[0-9a-fA-F]{4,40}$/, { message: () => "a commit hash is 4 to 40 hexadecimal digits" })
)

/** A workspace file as a git request names it: relative to the workspace root. */
const GitPath = Schema.String.pipe(Schema.minLength(1, { message: () => "a path relative to the workspace root is required" }))

/** `GET /api/git/log`'s query. */
export const GitLogQuery = Schema.Struct({
  /** Only the commits that changed this file (or directory): written, edited, restored or removed. */
  path: Schema.optional(GitPath)
})

/** `GET /api/git/show`'s query: a file at a commit. */
export const GitShowQuery = Schema.Struct({ hash: CommitHash, path: GitPath })

export const GitRestoreRequest = Schema.Struct({
  hash: CommitHash,
  path: GitPath
}).annotations({ identifier: "GitRestoreRequest" })
export type GitRestoreRequest = typeof GitRestoreRequest.Type

export const GitRestored = Schema.Struct({
  restored: Schema.String,
  from: Schema.String,
  /** The commit that records the restored content. */
  commit: Schema.String
}).annotations({ identifier: "GitRestored" })
export type GitRestored = typeof GitRestored.Type

export class GitGroup extends HttpApiGroup.make("git")
  .add(
    HttpApiEndpoint.get("log", "/api/git/log")
      .setUrlParams(GitLogQuery)
      .addSuccess(GitLog)
      .addError(BadRequest)
      .addError(Forbidden)
      .annotate(
        OpenApi.Description,
        "The workspace's commits from HEAD, newest first, at most 100. With `?path=` (Annal's addition) only the commits that changed " +
          "that file or directory, as `git log --first-parent -- <path>` lists them; 403 for a path that leaves the workspace or enters `.git`."
      )
  )
  .add(
    HttpApiEndpoint.get("show", "/api/git/show")
      .setUrlParams(GitShowQuery)
      .addSuccess(Schema.String.pipe(HttpApiSchema.withEncoding({ kind: "Text", contentType: "text/plain" })))
      .addError(BadRequest)
      .addError(Forbidden)
      .addError(NotFound)
      .annotate(OpenApi.Transform, servedByExtension)
      .annotate(
        OpenApi.Description,
        "Annal's addition: a file's bytes as commit `hash` holds them (`git show <hash>:<path>`), with the Content-Type of " +
          "`GET /api/workspace/file/{path}`. 400 for a malformed hash, 404 when the commit or the file in it does not exist, " +
          "403 for a path that leaves the workspace."
      )
  )
  .add(HttpApiEndpoint.get("tags", "/api/git/tags").addSuccess(GitTags))
  .add(
    HttpApiEndpoint.post("verify", "/api/git/verify")
      .addSuccess(GitVerify)
      .annotate(
        OpenApi.Description,
        "Reads every object reachable from HEAD, the branches and the tags, checks each one's hash, and says whether the repository is intact."
      )
  )
  .add(
    HttpApiEndpoint.post("restore", "/api/git/restore")
      .setPayload(GitRestoreRequest)
      .addSuccess(GitRestored)
      .addError(BadRequest)
      .addError(Forbidden)
      .addError(NotFound)
      .annotate(
        OpenApi.Description,
        "Writes a file's content at a commit back into the workspace and commits it. 400 for a malformed hash, " +
          "404 when the commit or the file in it does not exist, 403 for a path that leaves the workspace."
      )
  )
  .middleware(Authorization)
{}
