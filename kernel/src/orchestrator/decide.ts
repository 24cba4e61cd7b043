/**
 * Pure decisions of the orchestrator: reading the model's JSON answers, the interview's
 * ambiguity gate, the mechanical acceptance checks and whether to evolve.
 *
 * The model answers in JSON; the first balanced `{...}` of its text is read (prose or code
 * fences around it are ignored). An answer with no readable JSON object, or one missing the
 * fields a phase needs, is unreadable (`ModelError` saying what is wrong): the orchestrator asks
 * once more with the error and the shape (`llm/StructuredOutput.ts`), and then goes on with the
 * phase's fallback below rather than failing the chat because a model answered in prose.
 */
import type { Ontology } from "@annal/spec"
import { Either } from "effect"
import { ModelError } from "../llm/LanguageModel.js"
import { FORMATS } from "./answers.js"

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

/**
 * An unreadable answer: what is wrong, never the model's text (the message goes on the record
 * and onto live streams, which carry no model text; the repair request shows the model its answer).
 */
const invalid = (what: string, reason: string) => new ModelError({ message: `the model's ${what} is not the JSON asked for: ${reason}` })

const noObject = "no JSON object in the answer"

const clamp01 = (n: unknown): number | undefined => (typeof n === "number" && Number.isFinite(n) ? Math.min(1, Math.max(0, n)) : undefined)
const strings = (v: unknown): Array<string> =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === "string" && x.trim() !== "").map((x) => x.trim()) : []

export interface InterviewAnswer {
  /** False when the message asks for no work and `reply` answers it (a greeting, a question answered from the conversation). */
  readonly asks_for_work: boolean
  readonly reply: string
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

/**
 * Reads `{asks_for_work?, reply?, goal_clarity, constraints_clarity, success_clarity, questions[]}`.
 * A direct answer counts only with `asks_for_work: false` and a reply; the scores are needed
 * either way, except for a direct answer, which needs none.
 */
export const parseInterview = (text: string): Either.Either<InterviewAnswer, ModelError> => {
  const json = extractJson(text)
  if (json === undefined) return Either.left(invalid("interview answer", noObject))
  const reply = typeof json.reply === "string" ? json.reply.trim() : ""
  const asksForWork = !(json.asks_for_work === false && reply !== "")
  const goal = clamp01(json.goal_clarity)
  const constraints = clamp01(json.constraints_clarity)
  const success = clamp01(json.success_clarity)
  if (!asksForWork) {
    return Either.right({ asks_for_work: false, reply, goal_clarity: goal ?? 1, constraints_clarity: constraints ?? 1, success_clarity: success ?? 1, questions: strings(json.questions) })
  }
  const missing = [["goal_clarity", goal], ["constraints_clarity", constraints], ["success_clarity", success]].filter(([, v]) => v === undefined).map(([k]) => k)
  if (missing.length > 0) return Either.left(invalid("interview answer", `${missing.join(", ")} missing or not a number`))
  return Either.right({ asks_for_work: true, reply, goal_clarity: goal!, constraints_clarity: constraints!, success_clarity: success!, questions: strings(json.questions) })
}

/** What a run does after its interview. */
export type AfterInterview =
  | { readonly _tag: "Respond"; readonly reply: string }
  | { readonly _tag: "Ask"; readonly questions: ReadonlyArray<string>; readonly ambiguity: number }
  | { readonly _tag: "Proceed"; readonly ambiguity: number }

/**
 * A message that asks for no work is answered directly (when `directAnswers` allows it);
 * otherwise the ambiguity gate decides between questions and the work.
 */
export const decideAfterInterview = (answer: InterviewAnswer, threshold: number, directAnswers: boolean): AfterInterview => {
  if (directAnswers && !answer.asks_for_work) return { _tag: "Respond", reply: answer.reply }
  const decision = decideInterview(answer, threshold)
  return decision.passed ? { _tag: "Proceed", ambiguity: decision.ambiguity } : { _tag: "Ask", questions: decision.questions, ambiguity: decision.ambiguity }
}

/** Ambiguity = 1 - mean clarity; at most `threshold` (by default {@link AMBIGUITY_THRESHOLD}) passes. */
export const decideInterview = (answer: Omit<InterviewAnswer, "asks_for_work" | "reply">, threshold: number = AMBIGUITY_THRESHOLD): InterviewDecision => {
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
  if (json === undefined) return Either.left(invalid("seed", noObject))
  if (typeof json.goal !== "string" || json.goal.trim() === "") return Either.left(invalid("seed", "goal missing or empty"))
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
  if (json === undefined) return Either.left(invalid("evaluation", noObject))
  const score = clamp01(json.score)
  if (score === undefined) return Either.left(invalid("evaluation", "score missing or not a number"))
  if (typeof json.passed !== "boolean") return Either.left(invalid("evaluation", "passed missing or not true/false"))
  return Either.right({ score, passed: json.passed, summary: typeof json.summary === "string" ? json.summary : null })
}

/** Reads `{goal}`: the refined goal of the next generation. */
export const parseRefinement = (text: string): Either.Either<string, ModelError> => {
  const json = extractJson(text)
  if (json === undefined) return Either.left(invalid("refined goal", noObject))
  return typeof json.goal !== "string" || json.goal.trim() === ""
    ? Either.left(invalid("refined goal", "goal missing or empty"))
    : Either.right(json.goal.trim())
}

/** An unreadable seed: the user's message is the goal, with no constraints or criteria. */
export const seedFallback = (message: string): SeedSpec => ({ goal: message.trim(), constraints: [], acceptance_criteria: [], ontology: null })

/** An unreadable evaluation keeps the mechanical result: every file the criteria name exists (a missing one fails before the model is asked). */
export const mechanicalEvaluation = (criteria: ReadonlyArray<string>): ModelEvaluation => ({
  score: 1,
  passed: true,
  summary: criteria.length === 0
    ? "the model's evaluation was unreadable and there are no criteria to check: passed on the agent's answer"
    : "the model's evaluation was unreadable: passed on the mechanical checks (every file the criteria name exists)"
})

/** Backquoted spans of a criterion that look like relative file paths (a `.` or `/`, no spaces). */
export const pathsNamed = (criterion: string): ReadonlyArray<string> =>
  [...criterion.matchAll(/`([^`\s]+)`/g)]
    .map((m) => m[1]!)
    .filter((p) => (p.includes("/") || p.includes(".")) && !p.startsWith("/") && !p.split("/").includes(".."))

/** Every path the criteria name, once each. */
export const namedPaths = (criteria: ReadonlyArray<string>): ReadonlyArray<string> => [...new Set(criteria.flatMap(pathsNamed))]

/** The criteria's named paths that `exists` says are missing. */
export const missingPaths = (criteria: ReadonlyArray<string>, exists: (path: string) => boolean): ReadonlyArray<string> =>
  [...new Set(criteria.flatMap(pathsNamed))].filter((p) => !exists(p))

/** Another generation runs while the evaluation failed and the limit is not reached. */
export const shouldEvolve = (passed: boolean, generation: number, maxGenerations: number): boolean => !passed && generation < maxGenerations

/** The JSON Schemas of the model's answers (derived from `answers.ts`). */
export const INTERVIEW_SCHEMA = FORMATS.interview.schema
export const DIRECT_INTERVIEW_SCHEMA = FORMATS.directInterview.schema
export const SEED_SCHEMA = FORMATS.seed.schema
export const EVALUATION_SCHEMA = FORMATS.evaluation.schema
export const REFINEMENT_SCHEMA = FORMATS.refinement.schema

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
