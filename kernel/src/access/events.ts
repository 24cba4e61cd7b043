import { Schema } from "effect"

export const ACCESS_DECIDED = "access_decided"

/** Someone was allowed or denied something, and why. */
export const AccessDecided = Schema.Struct({
  /** Who asked: an agent name, or `api` for a request to the API. */
  subject: Schema.String,
  /** What was asked, e.g. `use_tool:exec`, `access_path:/etc`, `authenticate`. */
  action: Schema.String,
  resource: Schema.String,
  allowed: Schema.Boolean,
  reason: Schema.NullOr(Schema.String)
})
export type AccessDecided = typeof AccessDecided.Type

/** The stream an access decision is appended to. */
export const accessStream = (subject: string) => `access-${subject}`
