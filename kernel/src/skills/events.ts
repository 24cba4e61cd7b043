import { Schema } from "effect"

export const SKILL_CREATED = "skill_created"
export const SKILL_DELETED = "skill_deleted"

/** A skill was created with this content (materialised as `<data-dir>/skills/<name>.md`). */
export const SkillCreated = Schema.Struct({
  name: Schema.String,
  description: Schema.String,
  content: Schema.String
})
export type SkillCreated = typeof SkillCreated.Type

export const SkillDeleted = Schema.Struct({ name: Schema.String })
export type SkillDeleted = typeof SkillDeleted.Type

/** The stream of one skill name: created, deleted, created again… */
export const skillStream = (name: string) => `skill-${name}`
