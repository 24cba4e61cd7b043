import { Effect, Schema } from "effect"
import * as Projection from "../projection/Projection.js"
import { decodeData } from "../shared/EventData.js"
import { SKILL_CREATED, SKILL_DELETED, SkillCreated, SkillDeleted } from "./events.js"

/** A row of `skills`. */
export const SkillRow = Schema.Struct({
  name: Schema.String,
  description: Schema.String,
  content: Schema.String,
  seq: Schema.Number,
  created_at: Schema.String
})

/** The live skills; a deleted one leaves the view (and its file) but stays in the log. */
export const skillsProjection = Projection.make({
  name: "skills",
  version: 1,
  tables: [
    {
      name: "skills",
      ddl: `CREATE TABLE skills (
        name TEXT PRIMARY KEY,
        description TEXT NOT NULL,
        content TEXT NOT NULL,
        seq INTEGER NOT NULL,
        created_at TEXT NOT NULL
      )`
    }
  ],
  handles: [SKILL_CREATED, SKILL_DELETED],
  apply: (event, db) =>
    Effect.gen(function*() {
      if (event.type === SKILL_CREATED) {
        const d = decodeData(SkillCreated, event)
        yield* db.run("INSERT INTO skills (name, description, content, seq, created_at) VALUES (?, ?, ?, ?, ?)", [
          d.name,
          d.description,
          d.content,
          event.seq,
          event.at
        ])
      } else {
        const d = decodeData(SkillDeleted, event)
        yield* db.run("DELETE FROM skills WHERE name = ?", [d.name])
      }
  })
})
