/**
 * Events of the tool gate: one stream per tool call (`tool-call-<id>`), a request, then either
 * a denial, or a start followed by a completion or a failure. The steps between (access
 * decisions, budget reservations, approvals) are their own contexts' events, in log order.
 * The arguments are the model's (its `model_answered` holds them; here only their size and
 * sha256); the output is what the model was given, whole — already cut at
 * `tools.output_cap_bytes` (64 KiB by default, 16 MiB at most), so an event stays that size —
 * and with the model's answers it is everything a run reads, so a run can be replayed without
 * firing its tools. A live stream shows neither (`publicView`).
 */
import { Schema } from "effect"

export const TOOL_CALL_REQUESTED = "tool_call_requested"
export const TOOL_CALL_DENIED = "tool_call_denied"
export const TOOL_CALL_STARTED = "tool_call_started"
export const TOOL_CALL_COMPLETED = "tool_call_completed"
export const TOOL_CALL_FAILED = "tool_call_failed"

/** The gate step that refused a call. */
export const GateStage = Schema.Literal("arguments", "permission", "budget", "approval")
export type GateStage = typeof GateStage.Type

/** An agent asked to call a tool. `call_id` is the model's id of the call. */
export const ToolCallRequested = Schema.Struct({
  id: Schema.String,
  agent_id: Schema.String,
  call_id: Schema.String,
  tool: Schema.String,
  arguments_bytes: Schema.Int,
  arguments_sha256: Schema.String
})
export type ToolCallRequested = typeof ToolCallRequested.Type

/** The gate refused the call at `stage`; the model gets `reason` as the tool error. */
export const ToolCallDenied = Schema.Struct({
  id: Schema.String,
  agent_id: Schema.String,
  tool: Schema.String,
  status: Schema.Literal("denied"),
  stage: GateStage,
  reason: Schema.String,
  approval_id: Schema.NullOr(Schema.String)
})
export type ToolCallDenied = typeof ToolCallDenied.Type

/** The call passed the gate and runs, at most `timeout_secs`. */
export const ToolCallStarted = Schema.Struct({
  id: Schema.String,
  agent_id: Schema.String,
  tool: Schema.String,
  status: Schema.Literal("running"),
  /** `reserved` when the agent has a budget, `unlimited` when it has none. */
  budget: Schema.Literal("reserved", "unlimited"),
  approval_id: Schema.NullOr(Schema.String),
  timeout_secs: Schema.Number
})
export type ToolCallStarted = typeof ToolCallStarted.Type

/**
 * The call ran to the end; a process's non-zero exit code is still a completion. `output` is
 * what the model was given (`output_bytes` and `sha256` are of it); logs written before it was
 * recorded have only those two.
 */
export const ToolCallCompleted = Schema.Struct({
  id: Schema.String,
  agent_id: Schema.String,
  tool: Schema.String,
  status: Schema.Literal("completed"),
  duration_ms: Schema.Int,
  output_bytes: Schema.Int,
  sha256: Schema.String,
  exit_code: Schema.NullOr(Schema.Int),
  output: Schema.optional(Schema.String)
})
export type ToolCallCompleted = typeof ToolCallCompleted.Type

/** The call failed (a tool error or its time limit); the model gets `reason`. */
export const ToolCallFailed = Schema.Struct({
  id: Schema.String,
  agent_id: Schema.String,
  tool: Schema.String,
  status: Schema.Literal("failed"),
  duration_ms: Schema.Int,
  reason: Schema.String,
  timed_out: Schema.Boolean
})
export type ToolCallFailed = typeof ToolCallFailed.Type

/** The stream of one tool call. */
export const toolCallStream = (id: string) => `tool-call-${id}`
