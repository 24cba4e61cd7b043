/** Pure decisions of the seeds context: create, import a Markdown file, record an evaluation. */
import type { Ontology } from "@annal/spec"
import { Either } from "effect"
import { AlreadyExists, EntityNotFound, InvalidCommand } from "../shared/errors.js"
import type { EvaluationComplete, SeedCreated, SeedImported } from "./events.js"

/** What a decision needs to know of an existing seed. */
export interface SeedRef {
  readonly id: string
  readonly format: "json" | "markdown"
  readonly generation: number
  /** sha256 of a Markdown seed's content; null for a structured seed. */
  readonly sha256: string | null
}

/** What the runtime gives to create a seed. */
export interface CreateSeed {
  readonly goal: string
  readonly constraints?: ReadonlyArray<string> | undefined
  readonly acceptance_criteria?: ReadonlyArray<string> | undefined
  readonly ontology?: Ontology | null | undefined
  /** The seed this one evolves from; omitted or null for a root seed. */
  readonly parent_seed_id?: string | null | undefined
}

export interface Evaluation {
  readonly score: number
  readonly passed: boolean
  readonly summary?: string | null | undefined
}

/** Seed ids: a file name without `.md` (letters, digits, `.`, `_`, `-`; at most 128). */
export const SEED_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

const MAX_GOAL = 10_000
const MAX_ITEM = 4_000
const MAX_ITEMS = 200

const checkList = (field: string, list: ReadonlyArray<string>): string | undefined => {
  if (list.length > MAX_ITEMS) return `${field} has more than ${MAX_ITEMS} items`
  const i = list.findIndex((s) => s.trim() === "" || s.length > MAX_ITEM)
  return i < 0 ? undefined : `${field}[${i}] must be a non-empty string of at most ${MAX_ITEM} characters`
}

/** Decides `seed_created`: a valid, new id; a non-empty goal; an existing parent, whose generation + 1 this one is. */
export const decideCreate = (
  id: string,
  input: CreateSeed,
  existing: SeedRef | undefined,
  parent: SeedRef | undefined
): Either.Either<SeedCreated, InvalidCommand | EntityNotFound | AlreadyExists> => {
  if (!SEED_ID_PATTERN.test(id)) return Either.left(new InvalidCommand({ message: `invalid seed id: ${JSON.stringify(id)}` }))
  if (existing !== undefined) return Either.left(new AlreadyExists({ what: "seed", id }))
  const goal = input.goal.trim()
  if (goal === "" || goal.length > MAX_GOAL) {
    return Either.left(new InvalidCommand({ message: `goal must be a non-empty string of at most ${MAX_GOAL} characters` }))
  }
  const constraints = input.constraints ?? []
  const criteria = input.acceptance_criteria ?? []
  const listError = checkList("constraints", constraints) ?? checkList("acceptance_criteria", criteria)
  if (listError !== undefined) return Either.left(new InvalidCommand({ message: listError }))
  const parentId = input.parent_seed_id ?? null
  if (parentId !== null && parent === undefined) return Either.left(new EntityNotFound({ what: "parent seed", id: parentId }))
  return Either.right({
    seed_id: id,
    goal,
    constraints: [...constraints],
    acceptance_criteria: [...criteria],
    ontology: input.ontology ?? null,
    generation: parent === undefined ? 0 : parent.generation + 1,
    parent_seed_id: parentId
  })
}

/**
 * Decides whether a Markdown file is imported: when it is new or its content changed. A
 * structured seed with the same id keeps the id; the file is refused.
 */
export const decideImport = (
  id: string,
  content: string,
  sha256: string,
  existing: SeedRef | undefined
): Either.Either<SeedImported | undefined, InvalidCommand> => {
  if (!SEED_ID_PATTERN.test(id)) return Either.left(new InvalidCommand({ message: `invalid seed file name: ${JSON.stringify(`${id}.md`)}` }))
  if (existing?.format === "json") {
    return Either.left(new InvalidCommand({ message: `seed ${id} already exists as a structured seed; the file ${id}.md is not imported` }))
  }
  if (existing?.sha256 === sha256) return Either.right(undefined)
  return Either.right({ seed_id: id, content, sha256 })
}

/** Decides `evaluation_complete` for an existing seed with a score between 0 and 1. */
export const decideEvaluation = (
  id: string,
  seed: SeedRef | undefined,
  evaluation: Evaluation
): Either.Either<EvaluationComplete, InvalidCommand | EntityNotFound> => {
  if (seed === undefined) return Either.left(new EntityNotFound({ what: "seed", id }))
  if (!Number.isFinite(evaluation.score) || evaluation.score < 0 || evaluation.score > 1) {
    return Either.left(new InvalidCommand({ message: `score must be between 0 and 1, got ${evaluation.score}` }))
  }
  return Either.right({ seed_id: id, score: evaluation.score, passed: evaluation.passed, summary: evaluation.summary ?? null })
}

/** A Markdown seed's goal: its first heading, else its first non-empty line (at most 200 characters). */
export const markdownTitle = (content: string): string => {
  const lines = content.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "")
  const heading = lines.find((l) => /^#{1,6}\s/.test(l))
  const title = (heading ?? lines[0] ?? "").replace(/^#{1,6}\s+/, "").trim()
  return title.length > 200 ? `${title.slice(0, 199)}…` : title
}
