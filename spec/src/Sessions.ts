/** Chat sessions (seed section 14): the user's messages and the agent's responses, per session. */
import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Schema } from "effect"
import { Authorization } from "./Auth.js"
import { NotFound } from "./Errors.js"
import { Page } from "./Pagination.js"
import { AtSeqQuery, PageAtSeqQuery } from "./AtSeq.js"
import { StreamName } from "./StreamName.js"

/** An item of `GET /api/sessions`; `message_count` counts user messages and agent responses. */
export const SessionSummary = Schema.Struct({
  id: Schema.String,
  user_id: Schema.String,
  message_count: Schema.Int,
  active_seed_id: Schema.NullOr(Schema.String),
  created_at: Schema.String,
  updated_at: Schema.String,
  stream: StreamName
}).annotations({ identifier: "SessionSummary" })
export type SessionSummary = typeof SessionSummary.Type

/** One answer of the agent in a session. */
export const AgentResponse = Schema.Struct({
  content: Schema.String,
  session_id: Schema.String,
  seed_id: Schema.NullOr(Schema.String),
  phase_reached: Schema.NullOr(Schema.String),
  evaluation_passed: Schema.NullOr(Schema.Boolean),
  timestamp: Schema.String
}).annotations({ identifier: "AgentResponse" })
export type AgentResponse = typeof AgentResponse.Type

/** `GET /api/sessions/{id}`: the session with its whole history, oldest first. */
export const Session = Schema.Struct({
  id: Schema.String,
  user_id: Schema.String,
  user_messages: Schema.Array(Schema.String),
  agent_responses: Schema.Array(AgentResponse),
  active_seed_id: Schema.NullOr(Schema.String),
  active_persona_id: Schema.NullOr(Schema.String),
  created_at: Schema.String,
  updated_at: Schema.String,
  metadata: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  stream: StreamName
}).annotations({ identifier: "Session" })
export type Session = typeof Session.Type

export const SessionDeleted = Schema.Struct({ status: Schema.Literal("deleted"), id: Schema.String })

const IdPath = Schema.Struct({ id: Schema.String })

export class SessionsGroup extends HttpApiGroup.make("sessions")
  .add(HttpApiEndpoint.get("list", "/api/sessions").setUrlParams(PageAtSeqQuery).addSuccess(Page(SessionSummary)))
  .add(HttpApiEndpoint.get("get", "/api/sessions/:id").setPath(IdPath).setUrlParams(AtSeqQuery).addSuccess(Session).addError(NotFound))
  .add(HttpApiEndpoint.del("delete", "/api/sessions/:id").setPath(IdPath).addSuccess(SessionDeleted).addError(NotFound))
  .middleware(Authorization)
{}
