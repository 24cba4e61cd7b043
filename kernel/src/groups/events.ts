import { Schema } from "effect"

export const AGENT_GROUP_CREATED = "agent_group_created"
export const AGENT_GROUP_MEMBER_COMPLETED = "agent_group_member_completed"

/** Agents forked together for one piece of work; the group runs until every member has finished. */
export const AgentGroupCreated = Schema.Struct({
  group_id: Schema.String,
  name: Schema.String,
  /** The members, in order. */
  agent_ids: Schema.Array(Schema.String)
})
export type AgentGroupCreated = typeof AgentGroupCreated.Type

/** One member finished, successfully or not. */
export const AgentGroupMemberCompleted = Schema.Struct({
  group_id: Schema.String,
  agent_id: Schema.String,
  success: Schema.Boolean,
  /** What the member reported (kept for the record, never sent on live streams). */
  result: Schema.NullOr(Schema.String)
})
export type AgentGroupMemberCompleted = typeof AgentGroupMemberCompleted.Type

export const agentGroupStream = (id: string) => `agent-group-${id}`
