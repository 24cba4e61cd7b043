/** Pure decisions of the workspace context: what a write records, and what a reconciliation must. */
import type { EventDraft } from "@annal/store"
import { createHash } from "node:crypto"
import { objectId } from "../git/GitRepository.js"
import {
  type FileVersion,
  WORKSPACE_FILE_RESTORED,
  WORKSPACE_FILE_WRITTEN,
  WORKSPACE_RECONCILED,
  type WorkspaceFileRestored,
  type WorkspaceFileWritten,
  type WorkspaceReconciled
} from "./events.js"

/** What identifies a file's content: size, sha256 and git blob id. */
export const fileVersion = (path: string, content: Uint8Array): FileVersion => ({
  path,
  size: content.length,
  sha256: createHash("sha256").update(content).digest("hex"),
  blob: objectId("blob", content)
})

/** The event of a write committed as `commit`. */
export const written = (version: FileVersion, commit: string): EventDraft => ({
  type: WORKSPACE_FILE_WRITTEN,
  data: { ...version, commit } satisfies WorkspaceFileWritten
})

/** The event of a restore from `from`, committed as `commit`. */
export const restored = (version: FileVersion, from: string, commit: string): EventDraft => ({
  type: WORKSPACE_FILE_RESTORED,
  data: { ...version, from, commit } satisfies WorkspaceFileRestored
})

/** Paths whose content in the repository differs from what the log says, sorted. */
export interface FileDiff {
  /** In the repository with other content than the log's, or unknown to the log. */
  readonly changed: ReadonlyArray<string>
  /** Known to the log, gone from the repository. */
  readonly deleted: ReadonlyArray<string>
}

/** Compares the log's files (path → blob id) with a commit's. */
export const diffFiles = (known: ReadonlyMap<string, string>, actual: ReadonlyMap<string, string>): FileDiff => ({
  changed: [...actual].filter(([path, blob]) => known.get(path) !== blob).map(([path]) => path).sort(),
  deleted: [...known.keys()].filter((path) => !actual.has(path)).sort()
})

/**
 * The reconciliation to record, or undefined when the log already agrees with the repository
 * (a repository just created empty changes no file, so it records nothing).
 */
export const reconcile = (
  state: { readonly commit: string; readonly initialized: boolean },
  written: ReadonlyArray<FileVersion>,
  deleted: ReadonlyArray<string>
): EventDraft | undefined =>
  written.length === 0 && deleted.length === 0
    ? undefined
    : { type: WORKSPACE_RECONCILED, data: { commit: state.commit, initialized: state.initialized, written, deleted } satisfies WorkspaceReconciled }
