/** Where the kernel keeps its files inside `--data-dir`. */
import { Context, Layer } from "effect"
import { mkdirSync } from "node:fs"
import { join, resolve } from "node:path"

export interface DataPaths {
  readonly root: string
  /** `annal.db`: the log and its views. */
  readonly database: string
  /** `workspace/`: the agents' files, the worktree of `workspaceGit`. */
  readonly workspace: string
  /**
   * `workspace.git/`: the workspace's repository, outside the worktree, so that nothing allowed
   * to write the workspace (a program's module tool) can rewrite its history or plant hooks.
   */
  readonly workspaceGit: string
  /** `skills/`: every skill materialised as `<name>.md`. */
  readonly skills: string
  /** `seeds/`: Markdown seeds imported at start. */
  readonly seeds: string
  /** `programs/`: installed programs. */
  readonly programs: string
  /** `memory.hnsw` (+ its sidecar): the semantic index, rebuilt from the log when missing. */
  readonly memoryIndex: string
  /** `checkpoint`: the last signed checkpoint of the log, outside annal.db so that cutting the log's rows leaves it. */
  readonly checkpoint: string
  /** `past-views/`: scratch databases of past views (`?at_seq`) and their snapshots. */
  readonly pastViews: string
  /** `log-signing.key`: the Ed25519 key checkpoints are signed with (PKCS#8 PEM, 0600). */
  readonly signingKey: string
}

/** The layout under a data directory. */
export const dataPaths = (dataDir: string): DataPaths => {
  const root = resolve(dataDir)
  return {
    root,
    database: join(root, "annal.db"),
    workspace: join(root, "workspace"),
    workspaceGit: join(root, "workspace.git"),
    skills: join(root, "skills"),
    seeds: join(root, "seeds"),
    programs: join(root, "programs"),
    memoryIndex: join(root, "memory.hnsw"),
    checkpoint: join(root, "checkpoint"),
    pastViews: join(root, "past-views"),
    signingKey: join(root, "log-signing.key")
  }
}

export class DataDir extends Context.Tag("@annal/kernel/DataDir")<DataDir, DataPaths>() {
  /** The data directory at `dataDir`, created (0700) if missing. */
  static readonly layer = (dataDir: string) =>
    Layer.sync(DataDir, () => {
      const paths = dataPaths(dataDir)
      mkdirSync(paths.root, { recursive: true, mode: 0o700 })
      return paths
    })
}
