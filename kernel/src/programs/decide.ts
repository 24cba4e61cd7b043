/** Pure decisions of the programs context, and which programs' skills fit a goal. */
import { MAX_PROGRAM_SKILL_BYTES, PROGRAM_NAME_PATTERN, utf8Bytes } from "@annal/spec"
import { Either } from "effect"
import { AlreadyExists, EntityNotFound, InvalidCommand } from "../shared/errors.js"
import type { ProgramChanged, ProgramInstalled } from "./events.js"

/** Decides `program_installed`: a valid name no installed program has, a SKILL.md of at most 64 KB. */
export const decideInstall = (input: ProgramInstalled, exists: boolean): Either.Either<ProgramInstalled, InvalidCommand | AlreadyExists> => {
  if (!PROGRAM_NAME_PATTERN.test(input.name)) {
    return Either.left(new InvalidCommand({ message: `invalid field "program.name": ${JSON.stringify(input.name)} is not a valid program name` }))
  }
  if (!/^[0-9a-f]{64}$/.test(input.sha256)) return Either.left(new InvalidCommand({ message: "invalid field \"sha256\": not a sha256 digest" }))
  const skillBytes = input.skill === null ? 0 : utf8Bytes(input.skill.content)
  if (skillBytes > MAX_PROGRAM_SKILL_BYTES) {
    return Either.left(new InvalidCommand({ message: `SKILL.md must be at most ${MAX_PROGRAM_SKILL_BYTES} bytes (64 KB), got ${skillBytes}` }))
  }
  if (exists) return Either.left(new AlreadyExists({ what: "program", id: input.name }))
  return Either.right(input)
}

/**
 * Decides enabling or disabling: the event when the program's state changes, none when it is
 * already so (the request still succeeds); EntityNotFound for a program not installed.
 */
export const decideSetEnabled = (
  name: string,
  current: { readonly enabled: boolean } | undefined,
  enabled: boolean
): Either.Either<ProgramChanged | undefined, EntityNotFound> => {
  if (current === undefined) return Either.left(new EntityNotFound({ what: "program", id: name }))
  return Either.right(current.enabled === enabled ? undefined : { name })
}

/** Decides `program_uninstalled` for an installed program. */
export const decideUninstall = (name: string, exists: boolean): Either.Either<ProgramChanged, EntityNotFound> =>
  exists ? Either.right({ name }) : Either.left(new EntityNotFound({ what: "program", id: name }))

/** A program whose skill may be offered: its name, SKILL.md description and keywords, content. */
export interface SkillCandidate {
  readonly program: string
  readonly description: string
  readonly keywords: ReadonlyArray<string>
  readonly content: string
}

const STOP_WORDS = new Set([
  "the", "and", "for", "with", "that", "this", "from", "into", "onto", "then", "than", "are", "was", "were", "will", "would",
  "should", "could", "can", "has", "have", "had", "not", "but", "all", "any", "each", "its", "our", "your", "their", "them",
  "you", "use", "using", "make", "file", "files", "when", "what", "which", "who", "how", "why", "where", "there", "here",
  "about", "over", "under", "after", "before", "some", "more", "most", "other", "such", "only", "own", "same", "very", "just",
  "also", "like", "does", "did", "done", "get", "got", "set", "new", "one", "two", "out", "off", "per", "via", "program", "tool",
  "tools", "agent", "agents", "please", "write", "read"
])

/** The words of a text that carry meaning: lower case, 3+ letters, no stop words, a plural's s dropped. */
export const contentWords = (text: string): ReadonlySet<string> => {
  const out = new Set<string>()
  for (const raw of text.toLowerCase().split(/[^a-z0-9]+/)) {
    if (raw.length < 3 || STOP_WORDS.has(raw)) continue
    out.add(raw.length > 3 && raw.endsWith("s") && !raw.endsWith("ss") ? raw.slice(0, -1) : raw)
  }
  return out
}

const overlap = (a: ReadonlySet<string>, b: ReadonlySet<string>) => {
  let n = 0
  for (const w of a) if (b.has(w)) n++
  return n
}

/**
 * The candidates whose skill fits a goal, best first (at most `limit`): one needs a word of the
 * goal among its name's parts or its SKILL.md keywords (each counts 2); words of its
 * description (1 each) only rank it, so incidental words of a description offer nothing.
 */
export const relevantSkills = <C extends SkillCandidate>(goal: string, candidates: ReadonlyArray<C>, limit = 3): ReadonlyArray<C> => {
  const words = contentWords(goal)
  return candidates
    .map((c) => {
      const strong = contentWords([c.program.replace(/-/g, " "), ...c.keywords].join(" "))
      const weak = contentWords(c.description)
      const named = overlap(words, strong)
      return { c, named, score: 2 * named + overlap(words, weak) }
    })
    .filter((s) => s.named > 0)
    .sort((a, b) => b.score - a.score || (a.c.program < b.c.program ? -1 : a.c.program > b.c.program ? 1 : 0))
    .slice(0, limit)
    .map((s) => s.c)
}
