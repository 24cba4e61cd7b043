import { Schema } from "effect"

/** A file's content as recorded: never the bytes themselves, only what identifies them. */
export const FileVersion = Schema.Struct({
  /** Relative to the workspace root, `/`-separated, as git names it. */
  path: Schema.String,
  size: Schema.Int.pipe(Schema.nonNegative()),
  /** sha256 of the content, hex. */
  sha256: Schema.String,
  /** git's blob id of the content (sha1 of `blob <size>\0<content>`). */
  blob: Schema.String
})
export type FileVersion = typeof FileVersion.Type

/** A file was written through the API; `commit` records it in the workspace repository. */
export const WorkspaceFileWritten = Schema.Struct({ ...FileVersion.fields, commit: Schema.String })
export type WorkspaceFileWritten = typeof WorkspaceFileWritten.Type

/** A file was given back its content at commit `from`; `commit` records the restore. */
export const WorkspaceFileRestored = Schema.Struct({ ...FileVersion.fields, from: Schema.String, commit: Schema.String })
export type WorkspaceFileRestored = typeof WorkspaceFileRestored.Type

/**
 * At start the repository held what the log did not: files changed outside the API, or a write
 * that reached git before its event was appended when the process died, or files that were in
 * the directory when the repository was created (`initialized`). `commit` is HEAD after
 * recording the changes.
 */
export const WorkspaceReconciled = Schema.Struct({
  commit: Schema.String,
  initialized: Schema.Boolean,
  written: Schema.Array(FileVersion),
  deleted: Schema.Array(Schema.String)
})
export type WorkspaceReconciled = typeof WorkspaceReconciled.Type

export const WORKSPACE_FILE_WRITTEN = "workspace_file_written"
export const WORKSPACE_FILE_RESTORED = "workspace_file_restored"
export const WORKSPACE_RECONCILED = "workspace_reconciled"

/** The stream of the repository as a whole (reconciliations). */
export const WORKSPACE_STREAM = "workspace"

/** The stream of one file's writes and restores. */
export const fileStream = (path: string) => `workspace-${path}`
