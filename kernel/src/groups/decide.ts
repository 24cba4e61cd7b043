/** Pure decisions of the agent groups context. */
import { Either } from "effect"
import { AlreadyExists, EntityNotFound, InvalidCommand } from "../shared/errors.js"
import {
  AGENT_GROUP_CREATED,
  AGENT_GROUP_MEMBER_COMPLETED,
  type AgentGroupCreated,
  type AgentGroupMemberCompleted
} from "./events.js"

/** A group as decisions see it: each member's status. */
export interface GroupState {
  readonly members: ReadonlyArray<{ readonly agent_id: string; readonly status: "running" | "completed" | "failed" }>
}

export interface CreateGroup {
  readonly name: string
  readonly agent_ids: ReadonlyArray<string>
}

export type GroupEvent =
  | { readonly type: typeof AGENT_GROUP_CREATED; readonly data: AgentGroupCreated }
  | { readonly type: typeof AGENT_GROUP_MEMBER_COMPLETED; readonly data: AgentGroupMemberCompleted }

const MAX_MEMBERS = 1000
const AGENT_ID = /^[^\s/]{1,128}$/

/** Decides `agent_group_created`: a name, and at least one member, each once. */
export const decideCreate = (
  id: string,
  group: GroupState | undefined,
  input: CreateGroup
): Either.Either<ReadonlyArray<GroupEvent>, InvalidCommand | AlreadyExists> => {
  if (group !== undefined) return Either.left(new AlreadyExists({ what: "agent group", id }))
  const name = input.name.trim()
  if (name === "" || name.length > 200) return Either.left(new InvalidCommand({ message: "name must be a non-empty string of at most 200 characters" }))
  if (input.agent_ids.length === 0 || input.agent_ids.length > MAX_MEMBERS) {
    return Either.left(new InvalidCommand({ message: `a group needs between 1 and ${MAX_MEMBERS} agents` }))
  }
  const bad = input.agent_ids.find((a) => !AGENT_ID.test(a))
  if (bad !== undefined) return Either.left(new InvalidCommand({ message: `invalid agent id: ${JSON.stringify(bad)}` }))
  if (new Set(input.agent_ids).size !== input.agent_ids.length) return Either.left(new InvalidCommand({ message: "an agent appears twice in the group" }))
  return Either.right([{ type: AGENT_GROUP_CREATED, data: { group_id: id, name, agent_ids: [...input.agent_ids] } }])
}

/** Decides `agent_group_member_completed` for a member still running. */
export const decideMemberCompleted = (
  id: string,
  group: GroupState | undefined,
  agentId: string,
  outcome: { readonly success: boolean; readonly result?: string | null | undefined }
): Either.Either<ReadonlyArray<GroupEvent>, EntityNotFound | InvalidCommand> => {
  if (group === undefined) return Either.left(new EntityNotFound({ what: "agent group", id }))
  const member = group.members.find((m) => m.agent_id === agentId)
  if (member === undefined) return Either.left(new InvalidCommand({ message: `agent ${agentId} is not a member of group ${id}` }))
  if (member.status !== "running") return Either.left(new InvalidCommand({ message: `agent ${agentId} already finished in group ${id} (${member.status})` }))
  return Either.right([{
    type: AGENT_GROUP_MEMBER_COMPLETED,
    data: { group_id: id, agent_id: agentId, success: outcome.success, result: outcome.result ?? null }
  }])
}

/** A group's status from its members: running until all have finished, then failed if any failed. */
export const groupStatus = (members: ReadonlyArray<{ readonly status: "running" | "completed" | "failed" }>): "running" | "completed" | "failed" =>
  members.some((m) => m.status === "running") ? "running" : members.some((m) => m.status === "failed") ? "failed" : "completed"
