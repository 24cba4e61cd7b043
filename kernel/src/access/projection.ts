import { Effect, Schema } from "effect"
import * as Projection from "../projection/Projection.js"
import { decodeData } from "../shared/EventData.js"
import { Flag } from "../shared/ViewRow.js"
import { ACCESS_DECIDED, AccessDecided } from "./events.js"

/** A row of `access_decisions`: `allowed` 0 or 1. */
export const AccessDecisionRow = Schema.Struct({
  seq: Schema.Number,
  at: Schema.String,
  subject: Schema.String,
  action: Schema.String,
  resource: Schema.String,
  allowed: Flag,
  reason: Schema.NullOr(Schema.String)
})

/** Every access decision, newest last; the view behind the legacy `GET /api/audit`. */
export const accessProjection = Projection.make({
  name: "access",
  version: 1,
  tables: [
    {
      name: "access_decisions",
      ddl: `CREATE TABLE access_decisions (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        subject TEXT NOT NULL,
        action TEXT NOT NULL,
        resource TEXT NOT NULL,
        allowed INTEGER NOT NULL,
        reason TEXT
      );
      CREATE INDEX access_decisions_subject ON access_decisions (subject, seq);`
    }
  ],
  handles: [ACCESS_DECIDED],
  apply: (event, db) =>
    Effect.gen(function*() {
      const d = decodeData(AccessDecided, event)
      yield* db.run("INSERT INTO access_decisions (seq, at, subject, action, resource, allowed, reason) VALUES (?, ?, ?, ?, ?, ?, ?)", [
        event.seq,
        event.at,
        d.subject,
        d.action,
        d.resource,
        d.allowed ? 1 : 0,
        d.reason
      ])
  })
})
