import { Ontology } from "@annal/spec"
import { Schema } from "effect"

export const SEED_CREATED = "seed_created"
export const SEED_IMPORTED = "seed_imported"
export const EVALUATION_COMPLETE = "evaluation_complete"

/** A structured seed came into being: immutable from here on. */
export const SeedCreated = Schema.Struct({
  seed_id: Schema.String,
  goal: Schema.String,
  constraints: Schema.Array(Schema.String),
  acceptance_criteria: Schema.Array(Schema.String),
  ontology: Schema.NullOr(Ontology),
  /** 0 for a root seed, the parent's generation + 1 for an evolved one. */
  generation: Schema.Int,
  parent_seed_id: Schema.NullOr(Schema.String)
})
export type SeedCreated = typeof SeedCreated.Type

/** A Markdown seed file `<data-dir>/seeds/<seed_id>.md` was read with this content (again when it changed). */
export const SeedImported = Schema.Struct({
  seed_id: Schema.String,
  content: Schema.String,
  /** sha256 of the content, so an unchanged file is not imported twice. */
  sha256: Schema.String
})
export type SeedImported = typeof SeedImported.Type

/** A seed's outcome was evaluated; the latest evaluation is the seed's score. */
export const EvaluationComplete = Schema.Struct({
  seed_id: Schema.String,
  score: Schema.Number,
  passed: Schema.Boolean,
  /** The evaluator's reasoning, kept for the record (never sent on live streams). */
  summary: Schema.NullOr(Schema.String)
})
export type EvaluationComplete = typeof EvaluationComplete.Type

/** The stream of one seed: its creation and its evaluations. */
export const seedStream = (id: string) => `seed-${id}`
