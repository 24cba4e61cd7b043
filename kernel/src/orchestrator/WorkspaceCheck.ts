/**
 * What the evaluation reads of the workspace: which of the files the criteria name are missing.
 * Live, it looks at the files; in a replay, it answers what the run's `workspace_checked` says
 * (replay/Replay.ts) — the check is on the record before the evaluation uses it.
 */
import { Context, Effect, Layer } from "effect"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { Workspace } from "../workspace/Workspace.js"

export class WorkspaceCheck extends Context.Tag("@annal/kernel/WorkspaceCheck")<
  WorkspaceCheck,
  {
    /** Of `paths` (relative to the workspace), those missing, for run `runId`'s evaluation. */
    readonly missing: (runId: string, paths: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<string>>
  }
>() {
  /** The files in the workspace. */
  static readonly live = Layer.effect(
    WorkspaceCheck,
    Effect.map(Workspace, (workspace) => ({
      missing: (_runId: string, paths: ReadonlyArray<string>) => Effect.sync(() => paths.filter((p) => !existsSync(join(workspace.root, p))))
    }))
  )
}
