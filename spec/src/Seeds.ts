/**
 * Ouroboros seeds (seed section 6): immutable specifications — goal, constraints, acceptance
 * criteria, ontology — linked parent to child across generations, each with its latest
 * evaluation. Markdown seeds dropped into `<data-dir>/seeds/` are served as `{id, content}`.
 */
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Authorization } from "./Auth.js"
import { NotFound } from "./Errors.js"
import { Page } from "./Pagination.js"
import { AtSeqQuery, PageAtSeqQuery } from "./AtSeq.js"
import { StreamName } from "./StreamName.js"

/** One field of a seed's domain model. */
export const OntologyField = Schema.Struct({
  name: Schema.String,
  field_type: Schema.String,
  description: Schema.String
}).annotations({ identifier: "OntologyField" })

/** The domain model a seed works on (name, purpose, fields). */
export const Ontology = Schema.Struct({
  name: Schema.String,
  description: Schema.String,
  fields: Schema.Array(OntologyField)
}).annotations({ identifier: "Ontology" })
export type Ontology = typeof Ontology.Type

/** An item of `GET /api/seeds`. */
export const SeedSummary = Schema.Struct({
  id: Schema.String,
  goal: Schema.String,
  constraints_count: Schema.Int,
  created_at: Schema.String,
  stream: StreamName
}).annotations({ identifier: "SeedSummary" })
export type SeedSummary = typeof SeedSummary.Type

/** The latest evaluation of a seed. */
export const SeedEvaluation = Schema.Struct({
  score: Schema.Number,
  passed: Schema.Boolean,
  evaluated_at: Schema.String
}).annotations({ identifier: "SeedEvaluation" })

/** A structured seed, as `GET /api/seeds/{id}` returns it. */
export const SeedDetail = Schema.Struct({
  id: Schema.String,
  goal: Schema.String,
  constraints: Schema.Array(Schema.String),
  created_at: Schema.String,
  generation: Schema.Int,
  parent_seed_id: Schema.NullOr(Schema.String),
  acceptance_criteria: Schema.Array(Schema.String),
  ontology: Schema.NullOr(Ontology),
  /** The latest evaluation, or null when the seed was never evaluated. */
  evaluation: Schema.NullOr(SeedEvaluation),
  stream: StreamName
}).annotations({ identifier: "SeedDetail" })
export type SeedDetail = typeof SeedDetail.Type

/** A Markdown seed imported from `<data-dir>/seeds/<id>.md`. */
export const MarkdownSeed = Schema.Struct({
  id: Schema.String,
  content: Schema.String,
  stream: StreamName
}).annotations({ identifier: "MarkdownSeed" })
export type MarkdownSeed = typeof MarkdownSeed.Type

export const SeedView = Schema.Union(SeedDetail, MarkdownSeed)
export type SeedView = typeof SeedView.Type

/** One step of a lineage, root first; score and passed from the latest evaluation, or null. */
export const SeedEvolutionEntry = Schema.Struct({
  id: Schema.String,
  generation: Schema.Int,
  goal: Schema.String,
  parent_id: Schema.NullOr(Schema.String),
  score: Schema.NullOr(Schema.Number),
  passed: Schema.NullOr(Schema.Boolean)
}).annotations({ identifier: "SeedEvolutionEntry" })
export type SeedEvolutionEntry = typeof SeedEvolutionEntry.Type

const IdPath = Schema.Struct({ id: Schema.String })

export class SeedsGroup extends HttpApiGroup.make("seeds")
  .add(HttpApiEndpoint.get("list", "/api/seeds").setUrlParams(PageAtSeqQuery).addSuccess(Page(SeedSummary)))
  .add(HttpApiEndpoint.get("get", "/api/seeds/:id").setPath(IdPath).setUrlParams(AtSeqQuery).addSuccess(SeedView).addError(NotFound))
  .add(
    HttpApiEndpoint.get("evolution", "/api/seeds/:id/evolution")
      .setPath(IdPath)
      .setUrlParams(AtSeqQuery)
      .addSuccess(Schema.Array(SeedEvolutionEntry))
      .addError(NotFound)
      .annotate(OpenApi.Description, "The parent chain of a seed, root (oldest) first.")
  )
  .middleware(Authorization)
{}
