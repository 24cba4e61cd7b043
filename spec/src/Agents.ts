/** Agents (seed section 4): the agent instances, paginated, and killing a running one. */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"
import { Authorization } from "./Auth.js"
import { NotFound } from "./Errors.js"
import { Page } from "./Pagination.js"
import { PageAtSeqQuery } from "./AtSeq.js"
import { StreamName } from "./StreamName.js"

export const AgentStatus = Schema.Literal("Starting", "Running", "Idle", "Failed", "Stopped")
export type AgentStatus = typeof AgentStatus.Type

/** An agent as `GET /api/agents` lists it. */
export const AgentSummary = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  status: AgentStatus,
  created_at: Schema.String,
  /** The seed it executes; null for an agent a chat or a task started without one. */
  seed_id: Schema.NullOr(Schema.String),
  stream: StreamName
})
export type AgentSummary = typeof AgentSummary.Type

export class AgentsGroup extends HttpApiGroup.make("agents")
  .add(HttpApiEndpoint.get("list", "/api/agents").setUrlParams(PageAtSeqQuery).addSuccess(Page(AgentSummary)))
  .add(
    HttpApiEndpoint.post("kill", "/api/agents/:id/kill")
      .setPath(Schema.Struct({ id: Schema.String }))
      .addSuccess(HttpApiSchema.Empty(200))
      .addError(NotFound)
  )
  .middleware(Authorization)
{}
