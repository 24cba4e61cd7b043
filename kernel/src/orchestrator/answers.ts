/**
 * The shapes of the model's structured answers, one Effect Schema per phase. The JSON Schema a
 * model is asked for (`response_format` over HTTP, a grammar with node-llama-cpp) is derived
 * from them, so what is asked for and what the prompts describe cannot drift apart.
 *
 * Every string and array is bounded, so a grammar-constrained generation always ends; there
 * are no optional or nullable fields, because OpenAI's strict mode wants every property
 * required and node-llama-cpp's grammars know `oneOf` but not `anyOf`. The readers in
 * `decide.ts` are more lenient than these schemas (missing lists, scores out of range): a
 * model that half-follows the shape still gets through.
 */
import { JSONSchema, Schema } from "effect"
import type { ResponseFormat } from "../llm/LanguageModel.js"

const Clarity = Schema.Number.pipe(Schema.between(0, 1))
const Line = Schema.String.pipe(Schema.maxLength(300))
const Lines = Schema.Array(Line).pipe(Schema.maxItems(8))

/** The interview's scores and questions. */
const interviewFields = {
  goal_clarity: Clarity,
  constraints_clarity: Clarity,
  success_clarity: Clarity,
  questions: Schema.Array(Line).pipe(Schema.maxItems(5))
}

/** The interview when it may also answer directly: whether the message asks for work first, then the answer, then the scores. */
export const DirectInterviewAnswer = Schema.Struct({
  asks_for_work: Schema.Boolean,
  reply: Schema.String.pipe(Schema.maxLength(4000)),
  ...interviewFields
})

/** The interview when direct answers are off (`orchestrator.direct_answers: false`). */
export const InterviewAnswer = Schema.Struct(interviewFields)

export const SeedAnswer = Schema.Struct({
  goal: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(500)),
  constraints: Lines,
  acceptance_criteria: Lines,
  ontology: Schema.Struct({
    name: Schema.String.pipe(Schema.maxLength(100)),
    description: Line,
    fields: Schema.Array(Schema.Struct({
      name: Schema.String.pipe(Schema.maxLength(100)),
      field_type: Schema.String.pipe(Schema.maxLength(50)),
      description: Schema.String.pipe(Schema.maxLength(200))
    })).pipe(Schema.maxItems(8))
  })
})

export const EvaluationAnswer = Schema.Struct({
  score: Clarity,
  passed: Schema.Boolean,
  summary: Schema.String.pipe(Schema.maxLength(500))
})

export const RefinementAnswer = Schema.Struct({
  goal: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(500))
})

/** A schema's JSON Schema as a model is asked for it (no `$schema`: some endpoints refuse keys they do not know there). */
export const jsonSchemaOf = (schema: Schema.Schema.AnyNoContext): Readonly<Record<string, unknown>> => {
  const { $schema: _ignored, ...rest } = JSONSchema.make(schema) as unknown as Record<string, unknown>
  return rest
}

/** The response format of each structured phase; the names are stable (providers cache what they build from them). */
export const FORMATS = {
  interview: { name: "annal_interview", schema: jsonSchemaOf(InterviewAnswer) },
  directInterview: { name: "annal_interview_direct", schema: jsonSchemaOf(DirectInterviewAnswer) },
  seed: { name: "annal_seed", schema: jsonSchemaOf(SeedAnswer) },
  evaluation: { name: "annal_evaluation", schema: jsonSchemaOf(EvaluationAnswer) },
  refinement: { name: "annal_refinement", schema: jsonSchemaOf(RefinementAnswer) }
} satisfies Record<string, ResponseFormat>
