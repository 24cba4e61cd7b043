/** Skills (seed section 7): named Markdown instructions, each materialised as `<data-dir>/skills/<name>.md`. */
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { StreamName } from "./StreamName.js"
import { Authorization } from "./Auth.js"
import { BadRequest, Conflict, NotFound } from "./Errors.js"
import { Page } from "./Pagination.js"
import { AtSeqQuery, PageAtSeqQuery } from "./AtSeq.js"

/** A skill name is its file name: letters, digits, `-`, `_`; 1–64 characters, not starting with `-` or `_`. */
export const SKILL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/

/** Largest skill content, in UTF-8 bytes (64 KB). */
export const MAX_SKILL_CONTENT_BYTES = 64 * 1024

/** UTF-8 length of a string. */
export const utf8Bytes = (s: string): number => new TextEncoder().encode(s).byteLength

export const SkillName = Schema.String.pipe(
  Schema.pattern(SKILL_NAME_PATTERN, {
    message: () => "must be 1-64 letters, digits, \"-\" or \"_\", starting with a letter or digit"
  })
)

export const SkillContent = Schema.String.pipe(
  Schema.filter((s) => utf8Bytes(s) <= MAX_SKILL_CONTENT_BYTES || `must be at most ${MAX_SKILL_CONTENT_BYTES} bytes (64 KB), got ${utf8Bytes(s)}`)
)

/** The body of `POST /api/skills`. */
export const CreateSkill = Schema.Struct({
  name: SkillName,
  description: Schema.String.pipe(Schema.maxLength(1024)),
  content: Schema.optionalWith(SkillContent, { default: () => "" })
}).annotations({ identifier: "CreateSkill" })
export type CreateSkill = typeof CreateSkill.Type

/** An item of `GET /api/skills`. */
export const SkillSummary = Schema.Struct({
  name: Schema.String,
  description: Schema.String,
  stream: StreamName
}).annotations({ identifier: "SkillSummary" })
export type SkillSummary = typeof SkillSummary.Type

/** `GET /api/skills/{name}`: `path` is the absolute path of the materialised file. */
export const Skill = Schema.Struct({
  name: Schema.String,
  description: Schema.String,
  content: Schema.String,
  path: Schema.String,
  stream: StreamName
}).annotations({ identifier: "Skill" })
export type Skill = typeof Skill.Type

export const SkillCreated = Schema.Struct({ status: Schema.Literal("created"), name: Schema.String })
export const SkillDeleted = Schema.Struct({ status: Schema.Literal("deleted"), name: Schema.String })

const NamePath = Schema.Struct({ name: Schema.String })

export class SkillsGroup extends HttpApiGroup.make("skills")
  .add(HttpApiEndpoint.get("list", "/api/skills").setUrlParams(PageAtSeqQuery).addSuccess(Page(SkillSummary)))
  .add(HttpApiEndpoint.get("get", "/api/skills/:name").setPath(NamePath).setUrlParams(AtSeqQuery).addSuccess(Skill).addError(NotFound))
  .add(
    HttpApiEndpoint.post("create", "/api/skills")
      .setPayload(CreateSkill)
      .addSuccess(SkillCreated)
      .addError(BadRequest)
      .addError(Conflict)
      .annotate(OpenApi.Description, "Creates a skill; 409 when the name is taken. Content at most 64 KB.")
  )
  .add(HttpApiEndpoint.del("delete", "/api/skills/:name").setPath(NamePath).addSuccess(SkillDeleted).addError(NotFound))
  .middleware(Authorization)
{}
