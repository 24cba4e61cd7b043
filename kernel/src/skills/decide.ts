/** Pure decisions of the skills context. */
import { MAX_SKILL_CONTENT_BYTES, SKILL_NAME_PATTERN, utf8Bytes } from "@annal/spec"
import { Either } from "effect"
import { AlreadyExists, EntityNotFound, InvalidCommand } from "../shared/errors.js"
import type { SkillCreated, SkillDeleted } from "./events.js"

export interface CreateSkill {
  readonly name: string
  readonly description: string
  readonly content: string
}

/** Decides `skill_created`: a safe file name that no live skill has, content at most 64 KB. */
export const decideCreate = (input: CreateSkill, exists: boolean): Either.Either<SkillCreated, InvalidCommand | AlreadyExists> => {
  if (!SKILL_NAME_PATTERN.test(input.name)) {
    return Either.left(new InvalidCommand({ message: `invalid field "name": ${JSON.stringify(input.name)} is not a safe skill name` }))
  }
  const bytes = utf8Bytes(input.content)
  if (bytes > MAX_SKILL_CONTENT_BYTES) {
    return Either.left(new InvalidCommand({ message: `invalid field "content": must be at most ${MAX_SKILL_CONTENT_BYTES} bytes (64 KB), got ${bytes}` }))
  }
  if (exists) return Either.left(new AlreadyExists({ what: "skill", id: input.name }))
  return Either.right({ name: input.name, description: input.description, content: input.content })
}

/** Decides `skill_deleted` for a live skill. */
export const decideDelete = (name: string, exists: boolean): Either.Either<SkillDeleted, EntityNotFound> =>
  exists ? Either.right({ name }) : Either.left(new EntityNotFound({ what: "skill", id: name }))
