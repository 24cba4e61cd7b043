import { Effect, Schema } from "effect"
import type { StoredEvent, ViewDb } from "@annal/store"
import * as Projection from "../projection/Projection.js"
import { decodeData } from "../shared/EventData.js"
import {
  type FileVersion,
  WORKSPACE_FILE_RESTORED,
  WORKSPACE_FILE_WRITTEN,
  WORKSPACE_RECONCILED,
  WorkspaceFileWritten,
  WorkspaceReconciled
} from "./events.js"

const upsert = (db: ViewDb, event: StoredEvent, file: FileVersion, commit: string) =>
  db.run(
    `INSERT INTO workspace_files (path, size, sha256, blob, commit_oid, updated_seq, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (path) DO UPDATE SET size = excluded.size, sha256 = excluded.sha256, blob = excluded.blob,
       commit_oid = excluded.commit_oid, updated_seq = excluded.updated_seq, updated_at = excluded.updated_at`,
    [file.path, file.size, file.sha256, file.blob, commit, event.seq, event.at]
  )

/** A row of `workspace_files`. */
export const WorkspaceFileRow = Schema.Struct({
  path: Schema.String,
  size: Schema.Number,
  sha256: Schema.String,
  blob: Schema.String,
  commit_oid: Schema.String,
  updated_seq: Schema.Number,
  updated_at: Schema.String
})

/** The row of `workspace_head`: the last commit the log names. */
export const WorkspaceHeadRow = Schema.Struct({
  id: Schema.Literal(1),
  commit_oid: Schema.String,
  seq: Schema.Number,
  at: Schema.String
})

/**
 * The workspace as the log knows it: every file's size, sha256, git blob and the commit that
 * last recorded it; and the last commit the log names.
 */
export const workspaceProjection = Projection.make({
  name: "workspace",
  version: 1,
  tables: [
    {
      name: "workspace_files",
      ddl: `CREATE TABLE workspace_files (
        path TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        blob TEXT NOT NULL,
        commit_oid TEXT NOT NULL,
        updated_seq INTEGER NOT NULL,
        updated_at TEXT NOT NULL
      )`
    },
    {
      name: "workspace_head",
      ddl: `CREATE TABLE workspace_head (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        commit_oid TEXT NOT NULL,
        seq INTEGER NOT NULL,
        at TEXT NOT NULL
      )`
    }
  ],
  handles: [WORKSPACE_FILE_WRITTEN, WORKSPACE_FILE_RESTORED, WORKSPACE_RECONCILED],
  apply: (event, db) =>
    Effect.gen(function*() {
      let commit: string
      if (event.type === WORKSPACE_RECONCILED) {
        const d = decodeData(WorkspaceReconciled, event)
        commit = d.commit
        for (const file of d.written) yield* upsert(db, event, file, commit)
        for (const path of d.deleted) yield* db.run("DELETE FROM workspace_files WHERE path = ?", [path])
      } else {
        // written and restored carry the same file fields and commit
        const d = decodeData(WorkspaceFileWritten, event)
        commit = d.commit
        yield* upsert(db, event, d, commit)
      }
      yield* db.run(
        `INSERT INTO workspace_head (id, commit_oid, seq, at) VALUES (1, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET commit_oid = excluded.commit_oid, seq = excluded.seq, at = excluded.at`,
        [commit, event.seq, event.at]
      )
  })
})
