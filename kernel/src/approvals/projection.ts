import { Approval } from "@annal/spec"
import { Effect, Schema } from "effect"
import * as Projection from "../projection/Projection.js"
import { decodeData } from "../shared/EventData.js"
import { APPROVAL_REQUESTED, APPROVAL_RESOLVED, ApprovalRequested, ApprovalResolved } from "./events.js"

/** A row of `approvals`: the API's Approval without its stream, with the request's seq and the stream's version. */
export const ApprovalRow = Schema.Struct({ ...Approval.omit("stream").fields, seq: Schema.Number, version: Schema.Number })

/** Every approval, pending and decided; `seq` (of the request) orders them. */
export const approvalsProjection = Projection.make({
  name: "approvals",
  version: 1,
  tables: [
    {
      name: "approvals",
      ddl: `CREATE TABLE approvals (
        id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL UNIQUE,
        subject TEXT NOT NULL,
        action TEXT NOT NULL,
        resource TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        status TEXT NOT NULL,
        resolved_at TEXT,
        resolved_by TEXT,
        version INTEGER NOT NULL
      );
      CREATE INDEX approvals_status ON approvals (status, seq);`
    }
  ],
  handles: [APPROVAL_REQUESTED, APPROVAL_RESOLVED],
  apply: (event, db) =>
    Effect.gen(function*() {
      if (event.type === APPROVAL_REQUESTED) {
        const d = decodeData(ApprovalRequested, event)
        yield* db.run(
          `INSERT INTO approvals (id, seq, subject, action, resource, reason, created_at, expires_at, status, resolved_at, resolved_by, version)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', NULL, NULL, ?)`,
          [d.id, event.seq, d.subject, d.action, d.resource, d.reason, event.at, d.expires_at, event.version]
        )
      } else {
        const d = decodeData(ApprovalResolved, event)
        yield* db.run("UPDATE approvals SET status = ?, resolved_at = ?, resolved_by = ?, version = ? WHERE id = ?", [
          d.resolution,
          event.at,
          d.by,
          event.version,
          d.id
        ])
      }
  })
})
