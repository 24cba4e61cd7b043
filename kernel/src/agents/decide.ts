/** Pure decisions of the agents context: which transitions an agent's current status allows. */
import type { EventDraft } from "@annal/store"
import { draft } from "../shared/Command.js"
import { Either } from "effect"
import { InvalidCommand } from "../shared/errors.js"
import { AGENT_CREATED, AGENT_FAILED, AGENT_STOPPED, type AgentCreated, type AgentFailed, type AgentStopped, type StopReason } from "./events.js"

export type AgentStatus = "Starting" | "Running" | "Idle" | "Failed" | "Stopped"

/** Statuses in which an agent has (or had, before a crash) a live loop. */
export const LIVE: ReadonlyArray<AgentStatus> = ["Starting", "Running", "Idle"]

export const isLive = (status: AgentStatus) => LIVE.includes(status)

export interface CreateAgent {
  readonly agent_id: string
  readonly name: string
  readonly seed_id?: string | undefined
  readonly task_id?: string | undefined
  readonly session_id?: string | undefined
}

/** A new agent: the name must say something (it is what lists show). */
export const decideCreate = (exists: boolean, command: CreateAgent): Either.Either<EventDraft, InvalidCommand> => {
  if (exists) return Either.left(new InvalidCommand({ message: `agent_id: agent ${command.agent_id} exists already` }))
  const name = command.name.trim()
  if (name === "") return Either.left(new InvalidCommand({ message: "name: must not be empty" }))
  if (name.length > 200) return Either.left(new InvalidCommand({ message: "name: at most 200 characters" }))
  return Either.right(draft<AgentCreated>(AGENT_CREATED, {
    agent_id: command.agent_id,
    name,
    seed_id: command.seed_id ?? null,
    ...(command.task_id === undefined ? {} : { task_id: command.task_id }),
    ...(command.session_id === undefined ? {} : { session_id: command.session_id })
  }))
}

/** Stopping an agent that is already over records nothing (a kill after the end is a no-op). */
export const decideStop = (agentId: string, status: AgentStatus, reason: StopReason): ReadonlyArray<EventDraft> =>
  isLive(status) ? [draft<AgentStopped>(AGENT_STOPPED, { agent_id: agentId, reason })] : []

/** Failing an agent that is already over records nothing either. */
export const decideFail = (agentId: string, status: AgentStatus, error: string): ReadonlyArray<EventDraft> =>
  isLive(status) ? [draft<AgentFailed>(AGENT_FAILED, { agent_id: agentId, error })] : []
