/**
 * Pure decisions of the orchestrator: reading the model's JSON answers, the interview's
 * ambiguity gate, the mechanical acceptance checks and whether to evolve.
 *
 * The model answers in JSON; the first balanced `{...}` of its text is read (prose or code
 * fences around it are ignored). An answer with no readable JSON object, or one missing the
 * fields a phase needs, is a model error (`ModelError`): the chat fails with it rather than
 * guessing — an interview would otherwise loop on a generic question the user cannot fix.
 */
import type { Ontology } from "@annal/spec"
import { Either } from "effect"
import { ModelError } from "../llm/LanguageModel.js"

/** At most this ambiguity (1 - mean clarity) lets the interview pass. */
export const AMBIGUITY_THRESHOLD = 0.2

/** The first balanced JSON object in `text` (strings and escapes respected), parsed; undefined when there is none. */
export const extractJson = (text: string): Record<string, unknown> | undefined => {
  for (let start = text.indexOf("{"); start !== -1; start = text.indexOf("{", start + 1)) {
    let depth = 0
    let inString = false
    let escaped = false
    for (let i = start; i < text.length; i++) {
      const c = text[i]
      if (inString) {
        if (escaped) escaped = false
        else if (c === "\\") escaped = true
        else if (c === "\"") inString = false
        continue
      }
      if (c === "\"") inString = true
      else if (c === "{") depth++
      else if (c === "}") {
        depth--
        if (depth === 0) {
          try {
            const value: unknown = JSON.parse(text.slice(start, i + 1))
            if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>
          } catch {
            // not JSON from this brace: try the next one
          }
          break
        }
      }
    }
  }
  return undefined
}

const invalid = (what: string, text: string) =>
  new ModelError({ message: `the model's ${what} is not the JSON asked for: ${text.length > 200 ? `${text.slice(0, 200)}…` : text}` })

const clamp01 = (n: unknown): number | undefined => (typeof n === "number" && Number.isFinite(n) ? Math.min(1, Math.max(0, n)) : undefined)
const strings = (v: unknown): Array<string> =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === "string" && x.trim() !== "").map((x) => x.trim()) : []

export interface InterviewAnswer {
  readonly goal_clarity: number
  readonly constraints_clarity: number
  readonly success_clarity: number
  readonly questions: ReadonlyArray<string>
}

export interface InterviewDecision {
  readonly ambiguity: number
  readonly passed: boolean
  readonly questions: ReadonlyArray<string>
}

/** Reads `{goal_clarity, constraints_clarity, success_clarity, questions[]}`. */
export const parseInterview = (text: string): Either.Either<InterviewAnswer, ModelError> => {
  const json = extractJson(text)
  const goal = clamp01(json?.goal_clarity)
  const constraints = clamp01(json?.constraints_clarity)
  const success = clamp01(json?.success_clarity)
  if (json === undefined || goal === undefined || constraints === undefined || success === undefined) {
    return Either.left(invalid("interview answer", text))
  }
  return Either.right({ goal_clarity: goal, constraints_clarity: constraints, success_clarity: success, questions: strings(json.questions) })
}

/** Ambiguity = 1 - mean clarity; at most `threshold` (by default {@link AMBIGUITY_THRESHOLD}) passes. */
export const decideInterview = (answer: InterviewAnswer, threshold: number = AMBIGUITY_THRESHOLD): InterviewDecision => {
  const ambiguity = 1 - (answer.goal_clarity + answer.constraints_clarity + answer.success_clarity) / 3
  // rounding keeps 0.8/0.8/0.8 (ambiguity 0.2 in exact terms) on the passing side
  const passed = Math.round(ambiguity * 1e9) / 1e9 <= threshold
  const questions = answer.questions.length > 0 ? answer.questions : ["Could you say more precisely what you want done, under which constraints, and how success is judged?"]
  return { ambiguity, passed, questions }
}

/** The reply that asks the interview's questions. */
export const questionsReply = (questions: ReadonlyArray<string>): string =>
  questions.length === 1 ? questions[0]! : questions.map((q, i) => `${i + 1}. ${q}`).join("\n")

export interface SeedSpec {
  readonly goal: string
  readonly constraints: ReadonlyArray<string>
  readonly acceptance_criteria: ReadonlyArray<string>
  readonly ontology: Ontology | null
}

const ontologyOf = (v: unknown): Ontology | null => {
  if (typeof v !== "object" || v === null) return null
  const o = v as Record<string, unknown>
  if (typeof o.name !== "string") return null
  const fields = Array.isArray(o.fields)
    ? o.fields.flatMap((f) => {
      if (typeof f !== "object" || f === null) return []
      const r = f as Record<string, unknown>
      return typeof r.name === "string"
        ? [{ name: r.name, field_type: typeof r.field_type === "string" ? r.field_type : "string", description: typeof r.description === "string" ? r.description : "" }]
        : []
    })
    : []
  return { name: o.name, description: typeof o.description === "string" ? o.description : "", fields }
}

/** Reads `{goal, constraints[], acceptance_criteria[], ontology?}`. */
export const parseSeedSpec = (text: string): Either.Either<SeedSpec, ModelError> => {
  const json = extractJson(text)
  if (json === undefined || typeof json.goal !== "string" || json.goal.trim() === "") return Either.left(invalid("seed", text))
  return Either.right({
    goal: json.goal.trim(),
    constraints: strings(json.constraints),
    acceptance_criteria: strings(json.acceptance_criteria),
    ontology: ontologyOf(json.ontology)
  })
}

export interface ModelEvaluation {
  readonly score: number
  readonly passed: boolean
  readonly summary: string | null
}

/** Reads `{score 0..1, passed, summary?}`. */
export const parseEvaluation = (text: string): Either.Either<ModelEvaluation, ModelError> => {
  const json = extractJson(text)
  const score = clamp01(json?.score)
  if (json === undefined || score === undefined || typeof json.passed !== "boolean") return Either.left(invalid("evaluation", text))
  return Either.right({ score, passed: json.passed, summary: typeof json.summary === "string" ? json.summary : null })
}

/** Reads `{goal}`: the refined goal of the next generation. */
export const parseRefinement = (text: string): Either.Either<string, ModelError> => {
  const json = extractJson(text)
  return json === undefined || typeof json.goal !== "string" || json.goal.trim() === ""
    ? Either.left(invalid("refined goal", text))
    : Either.right(json.goal.trim())
}

/** Backquoted spans of a criterion that look like relative file paths (a `.` or `/`, no spaces). */
export const pathsNamed = (criterion: string): ReadonlyArray<string> =>
  [...criterion.matchAll(/`([^`\s]+)`/g)]
    .map((m) => m[1]!)
    .filter((p) => (p.includes("/") || p.includes(".")) && !p.startsWith("/") && !p.split("/").includes(".."))

/** The criteria's named paths that `exists` says are missing. */
export const missingPaths = (criteria: ReadonlyArray<string>, exists: (path: string) => boolean): ReadonlyArray<string> =>
  [...new Set(criteria.flatMap(pathsNamed))].filter((p) => !exists(p))

/** Another generation runs while the evaluation failed and the limit is not reached. */
export const shouldEvolve = (passed: boolean, generation: number, maxGenerations: number): boolean => !passed && generation < maxGenerations

/** The shapes of the model's answers, as JSON schemas a local model's grammar enforces (bounded, so a generation always ends). */
export const INTERVIEW_SCHEMA = {
  type: "object",
  properties: {
    goal_clarity: { type: "number" },
    constraints_clarity: { type: "number" },
    success_clarity: { type: "number" },
    questions: { type: "array", items: { type: "string", maxLength: 300 }, maxItems: 5 }
  },
  required: ["goal_clarity", "constraints_clarity", "success_clarity", "questions"]
} as const

export const SEED_SCHEMA = {
  type: "object",
  properties: {
    goal: { type: "string", minLength: 1, maxLength: 500 },
    constraints: { type: "array", items: { type: "string", maxLength: 300 }, maxItems: 8 },
    acceptance_criteria: { type: "array", items: { type: "string", maxLength: 300 }, maxItems: 8 },
    ontology: {
      type: "object",
      properties: {
        name: { type: "string", maxLength: 100 },
        description: { type: "string", maxLength: 300 },
        fields: {
          type: "array",
          items: {
            type: "object",
            properties: { name: { type: "string", maxLength: 100 }, field_type: { type: "string", maxLength: 50 }, description: { type: "string", maxLength: 200 } },
            required: ["name", "field_type", "description"]
          },
          maxItems: 8
        }
      },
      required: ["name", "description", "fields"]
    }
  },
  required: ["goal", "constraints", "acceptance_criteria", "ontology"]
} as const

export const EVALUATION_SCHEMA = {
  type: "object",
  properties: { score: { type: "number" }, passed: { type: "boolean" }, summary: { type: "string", maxLength: 500 } },
  required: ["score", "passed", "summary"]
} as const

export const REFINEMENT_SCHEMA = {
  type: "object",
  properties: { goal: { type: "string", minLength: 1, maxLength: 500 } },
  required: ["goal"]
} as const

/** A seed with at least this many acceptance criteria is split into an agent group. */
export const GROUP_THRESHOLD = 3

/**
 * The parts a seed's criteria are split into, one agent each: undefined below
 * {@link GROUP_THRESHOLD} criteria; else at most `maxMembers` parts, the criteria dealt in turn
 * so the parts differ by at most one.
 */
export const splitCriteria = (criteria: ReadonlyArray<string>, maxMembers: number): ReadonlyArray<ReadonlyArray<string>> | undefined => {
  if (criteria.length < GROUP_THRESHOLD) return undefined
  const parts = Math.max(1, Math.min(criteria.length, maxMembers))
  const out: Array<Array<string>> = Array.from({ length: parts }, () => [])
  criteria.forEach((c, i) => out[i % parts]!.push(c))
  return out
}

/** How often a run a restart cut off is resumed before it is failed instead. */
export const MAX_RESUMES = 1

/** What to do with a run the last stop cut off. */
export type ResumeDecision =
  | { readonly _tag: "Resume"; readonly phase: "interview" | "execute"; readonly seed_id: string | null }
  | { readonly _tag: "Fail"; readonly error: string }

/**
 * A cut-off run goes on from its seed (execute again, with a fresh agent) or, before it had one,
 * from the interview; one already resumed {@link MAX_RESUMES} times, or with no model to go on
 * with, is failed with the reason.
 */
export const decideResume = (
  run: { readonly resumes: number; readonly seed_id: string | null },
  modelProblem: string | undefined
): ResumeDecision => {
  if (run.resumes >= MAX_RESUMES) {
    return { _tag: "Fail", error: `interrupted by a restart again after being resumed ${run.resumes} time(s); not resumed further` }
  }
  if (modelProblem !== undefined) return { _tag: "Fail", error: `interrupted by a restart, and it cannot be resumed: ${modelProblem}` }
  return run.seed_id === null ? { _tag: "Resume", phase: "interview", seed_id: null } : { _tag: "Resume", phase: "execute", seed_id: run.seed_id }
}
