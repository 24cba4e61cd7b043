import { Ontology } from "@annal/spec"
import { Effect, Schema } from "effect"
import { Chain } from "@annal/store"
import * as Projection from "../projection/Projection.js"
import { decodeData } from "../shared/EventData.js"
import { Flag, JsonStrings } from "../shared/ViewRow.js"
import { markdownTitle } from "./decide.js"
import {
  EVALUATION_COMPLETE,
  EvaluationComplete,
  SEED_CREATED,
  SEED_IMPORTED,
  SeedCreated,
  SeedImported
} from "./events.js"

/** A row of `seeds`: the lists and the ontology are JSON, `passed` 0 or 1. */
export const SeedRow = Schema.Struct({
  id: Schema.String,
  seq: Schema.Number,
  format: Schema.Literal("json", "markdown"),
  goal: Schema.String,
  constraints: JsonStrings,
  acceptance_criteria: JsonStrings,
  ontology: Schema.NullOr(Schema.parseJson(Ontology)),
  content: Schema.NullOr(Schema.String),
  sha256: Schema.NullOr(Schema.String),
  generation: Schema.Number,
  parent_id: Schema.NullOr(Schema.String),
  score: Schema.NullOr(Schema.Number),
  passed: Schema.NullOr(Flag),
  evaluated_at: Schema.NullOr(Schema.String),
  evaluations: Schema.Number,
  created_at: Schema.String,
  updated_at: Schema.String
})

/** Every seed, structured or Markdown, with its latest evaluation. */
export const seedsProjection = Projection.make({
  name: "seeds",
  version: 1,
  tables: [
    {
      name: "seeds",
      ddl: `CREATE TABLE seeds (
        id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        format TEXT NOT NULL CHECK (format IN ('json', 'markdown')),
        goal TEXT NOT NULL,
        constraints TEXT NOT NULL,
        acceptance_criteria TEXT NOT NULL,
        ontology TEXT,
        content TEXT,
        sha256 TEXT,
        generation INTEGER NOT NULL,
        parent_id TEXT,
        score REAL,
        passed INTEGER,
        evaluated_at TEXT,
        evaluations INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX seeds_seq ON seeds (seq);
      CREATE INDEX seeds_parent ON seeds (parent_id);`
    }
  ],
  handles: [SEED_CREATED, SEED_IMPORTED, EVALUATION_COMPLETE],
  apply: (event, db) =>
    Effect.gen(function*() {
      switch (event.type) {
        case SEED_CREATED: {
          const d = decodeData(SeedCreated, event)
          yield* db.run(
            `INSERT INTO seeds (id, seq, format, goal, constraints, acceptance_criteria, ontology, content, sha256, generation, parent_id, created_at, updated_at)
             VALUES (?, ?, 'json', ?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?)`,
            [
              d.seed_id,
              event.seq,
              d.goal,
              JSON.stringify(d.constraints),
              JSON.stringify(d.acceptance_criteria),
              // canonical, as recorded: the decoded object's keys come in the Schema's order
              d.ontology === null ? null : Chain.canonicalJson(d.ontology),
              d.generation,
              d.parent_seed_id,
              event.at,
              event.at
            ]
          )
          return
        }
        case SEED_IMPORTED: {
          // a changed file replaces the content; the seed keeps its place and creation time
          const d = decodeData(SeedImported, event)
          yield* db.run(
            `INSERT INTO seeds (id, seq, format, goal, constraints, acceptance_criteria, ontology, content, sha256, generation, parent_id, created_at, updated_at)
             VALUES (?, ?, 'markdown', ?, '[]', '[]', NULL, ?, ?, 0, NULL, ?, ?)
             ON CONFLICT (id) DO UPDATE SET goal = excluded.goal, content = excluded.content, sha256 = excluded.sha256,
               updated_at = excluded.updated_at`,
            [d.seed_id, event.seq, markdownTitle(d.content), d.content, d.sha256, event.at, event.at]
          )
          return
        }
        case EVALUATION_COMPLETE: {
          const d = decodeData(EvaluationComplete, event)
          yield* db.run(
            `UPDATE seeds SET score = ?, passed = ?, evaluated_at = ?, evaluations = evaluations + 1, updated_at = ? WHERE id = ?`,
            [d.score, d.passed ? 1 : 0, event.at, event.at, d.seed_id]
          )
          return
        }
      }
  })
})
