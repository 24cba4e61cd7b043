/**
 * The agents' events: an agent's life from creation to its end, on the stream `agent-<id>`.
 * What the model said is kept in fields a live stream never shows (`text`): `publicView` passes
 * only ids, `name`, `status`, `reason`, `tokens` and the like.
 */
import { Schema } from "effect"

export const AGENT_CREATED = "agent_created"
export const AGENT_STARTED = "agent_started"
export const AGENT_OUTPUT = "agent_output"
export const AGENT_STOPPED = "agent_stopped"
export const AGENT_FAILED = "agent_failed"

export const AGENT_EVENTS = [AGENT_CREATED, AGENT_STARTED, AGENT_OUTPUT, AGENT_STOPPED, AGENT_FAILED] as const

/** An agent was forked by the supervisor, for a seed, a scheduler task or a chat session. */
export const AgentCreated = Schema.Struct({
  agent_id: Schema.String,
  name: Schema.String,
  seed_id: Schema.NullOr(Schema.String),
  task_id: Schema.optional(Schema.String),
  session_id: Schema.optional(Schema.String)
})
export type AgentCreated = typeof AgentCreated.Type

/** A tool as offered to the model: exactly what goes in a model request's `tools`. */
export const OfferedTool = Schema.Struct({
  name: Schema.String,
  description: Schema.String,
  parameters: Schema.Record({ key: Schema.String, value: Schema.Unknown })
})
export type OfferedTool = typeof OfferedTool.Type

/**
 * Its loop began (permissions granted, first model call next). `tools`: the tools it is offered
 * for its whole loop — built-ins, programs' and MCP servers' tools — as its model requests list
 * them, so a replay offers the same (absent in events recorded before offers were; never on a
 * live stream).
 */
export const AgentStarted = Schema.Struct({ agent_id: Schema.String, tools: Schema.optional(Schema.Array(OfferedTool)) })
export type AgentStarted = typeof AgentStarted.Type

/**
 * One model call ended: the step, the tokens it used and how many tools it asked for. `text` is
 * the model's answer — on the record, never on a live stream.
 */
export const AgentOutput = Schema.Struct({
  agent_id: Schema.String,
  step: Schema.Number,
  tokens: Schema.Number,
  tool_call_count: Schema.Number,
  text: Schema.String
})
export type AgentOutput = typeof AgentOutput.Type

/** Why an agent stopped: it answered, it ran out of steps, or someone killed it. */
export const StopReason = Schema.Literal("completed", "max_steps", "killed")
export type StopReason = typeof StopReason.Type

export const AgentStopped = Schema.Struct({ agent_id: Schema.String, reason: StopReason })
export type AgentStopped = typeof AgentStopped.Type

/** The agent could not go on (the model failed, the log could not be written, a restart cut it off). */
export const AgentFailed = Schema.Struct({ agent_id: Schema.String, error: Schema.String })
export type AgentFailed = typeof AgentFailed.Type

export const agentStream = (id: string) => `agent-${id}`
