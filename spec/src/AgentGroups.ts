/**
 * Agent groups (seed section 19): agents forked together for one piece of work. A group runs
 * until every member has finished; it is then `completed`, or `failed` if any member failed.
 */
import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Schema } from "effect"
import { Authorization } from "./Auth.js"
import { NotFound } from "./Errors.js"
import { AtSeqQuery } from "./AtSeq.js"
import { StreamName } from "./StreamName.js"

export const AgentGroupStatus = Schema.Literal("running", "completed", "failed")
export type AgentGroupStatus = typeof AgentGroupStatus.Type

export const AgentGroupMemberStatus = Schema.Literal("running", "completed", "failed")

/** An item of `GET /api/agent-groups`. */
export const AgentGroupSummary = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  agent_count: Schema.Int,
  status: AgentGroupStatus,
  created_at: Schema.String,
  stream: StreamName
}).annotations({ identifier: "AgentGroupSummary" })
export type AgentGroupSummary = typeof AgentGroupSummary.Type

/** One member of a group and how it finished. */
export const AgentGroupMember = Schema.Struct({
  agent_id: Schema.String,
  status: AgentGroupMemberStatus,
  /** What the member reported when it finished (null while running or when it said nothing). */
  result: Schema.NullOr(Schema.String),
  completed_at: Schema.NullOr(Schema.String)
}).annotations({ identifier: "AgentGroupMember" })

/** `GET /api/agent-groups/{id}`: the whole group with its members. */
export const AgentGroup = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  agent_count: Schema.Int,
  status: AgentGroupStatus,
  created_at: Schema.String,
  updated_at: Schema.String,
  completed_at: Schema.NullOr(Schema.String),
  completed_count: Schema.Int,
  failed_count: Schema.Int,
  members: Schema.Array(AgentGroupMember),
  stream: StreamName
}).annotations({ identifier: "AgentGroup" })
export type AgentGroup = typeof AgentGroup.Type

const IdPath = Schema.Struct({ id: Schema.String })

export class AgentGroupsGroup extends HttpApiGroup.make("agentGroups")
  .add(HttpApiEndpoint.get("list", "/api/agent-groups").setUrlParams(AtSeqQuery).addSuccess(Schema.Array(AgentGroupSummary)))
  .add(HttpApiEndpoint.get("get", "/api/agent-groups/:id").setPath(IdPath).setUrlParams(AtSeqQuery).addSuccess(AgentGroup).addError(NotFound))
  .middleware(Authorization)
{}
