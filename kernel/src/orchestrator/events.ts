/**
 * The orchestrator's events: the life of one chat run (one user message through the Ouroboros
 * loop) on the stream `chat-run-<run id>` — started, each phase started and completed, resumed
 * after a restart, and its end. They carry ids, the phase and outcomes, never message contents
 * (the session holds those). The stream also holds the model's answers to the run's phases
 * (`model_answered`, llm/events.ts), which a live stream never shows.
 *
 * Logs written before runs had ids kept their phases on `orchestrator-<session id>`, without
 * `run_id`; those events still decode.
 */
import { Schema } from "effect"

export const CHAT_RUN_STARTED = "chat_run_started"
export const PHASE_STARTED = "phase_started"
export const PHASE_COMPLETED = "phase_completed"
export const CHAT_RUN_RESUMED = "chat_run_resumed"
export const CHAT_RUN_COMPLETED = "chat_run_completed"
export const CHAT_RUN_FAILED = "chat_run_failed"
export const WORKSPACE_CHECKED = "workspace_checked"
export const SKILLS_OFFERED = "skills_offered"

export const ORCHESTRATOR_EVENTS = [CHAT_RUN_STARTED, PHASE_STARTED, PHASE_COMPLETED, CHAT_RUN_RESUMED, CHAT_RUN_COMPLETED, CHAT_RUN_FAILED] as const

/** The phases of the Ouroboros loop, in order; `respond` answers a message that asks for no work, right after the interview. */
export const Phase = Schema.Literal("interview", "respond", "seed", "execute", "evaluate", "evolve")
export type Phase = typeof Phase.Type

/** A user message entered the loop: the session's `message_index`-th message (0-based). */
export const ChatRunStarted = Schema.Struct({
  run_id: Schema.String,
  session_id: Schema.String,
  message_id: Schema.String,
  message_index: Schema.Number
})
export type ChatRunStarted = typeof ChatRunStarted.Type

/** A phase of a run began. */
export const PhaseStarted = Schema.Struct({
  session_id: Schema.String,
  phase: Phase,
  run_id: Schema.optional(Schema.String),
  /** The seed generation the phase works on (execute, evaluate, evolve). */
  generation: Schema.optional(Schema.Number)
})
export type PhaseStarted = typeof PhaseStarted.Type

/**
 * What a run did when the model's structured answer stayed unreadable after one repair request:
 * `let_through` (interview: the request is clear enough to try), `message_as_goal` (seed: the
 * user's message is the goal, no criteria), `mechanical_result` (evaluate: the mechanical checks
 * decide), `stop_evolving` (evolve: the last answer is the reply).
 */
export const Fallback = Schema.Literal("let_through", "message_as_goal", "mechanical_result", "stop_evolving")
export type Fallback = typeof Fallback.Type

/** What the interview decided: ask questions, go on with the work, or answer directly (`respond`). */
export const InterviewOutcome = Schema.Literal("questions", "proceed", "respond")
export type InterviewOutcome = typeof InterviewOutcome.Type

/**
 * A phase of a run finished (a failed phase has no `phase_completed`; the run's
 * `chat_run_failed` says why). `seed_id` is the seed the phase made (seed, evolve) or worked on.
 * A phase that asked the model for JSON says whether the answer needed the repair request
 * (`repaired`) or stayed unreadable (`fallback`, with the reader's error in `detail`); the
 * interview says what it decided (`outcome`). Events written before these fields lack them.
 */
export const PhaseCompleted = Schema.Struct({
  session_id: Schema.String,
  phase: Phase,
  run_id: Schema.optional(Schema.String),
  seed_id: Schema.optional(Schema.NullOr(Schema.String)),
  generation: Schema.optional(Schema.Number),
  outcome: Schema.optional(InterviewOutcome),
  repaired: Schema.optional(Schema.Boolean),
  fallback: Schema.optional(Fallback),
  detail: Schema.optional(Schema.String)
})
export type PhaseCompleted = typeof PhaseCompleted.Type

/** A run a restart cut off goes on from `phase` (its seed, if it had one, is kept). */
export const ChatRunResumed = Schema.Struct({
  run_id: Schema.String,
  session_id: Schema.String,
  phase: Phase,
  seed_id: Schema.NullOr(Schema.String),
  reason: Schema.String
})
export type ChatRunResumed = typeof ChatRunResumed.Type

/** The run answered: the reply is the session's message `message_id`. */
export const ChatRunCompleted = Schema.Struct({
  run_id: Schema.String,
  session_id: Schema.String,
  phase: Phase,
  message_id: Schema.String,
  seed_id: Schema.NullOr(Schema.String),
  passed: Schema.NullOr(Schema.Boolean)
})
export type ChatRunCompleted = typeof ChatRunCompleted.Type

/** The run ended without an answer; `error` says why (the model failed, it was stopped, a restart cut it off twice…). */
export const ChatRunFailed = Schema.Struct({
  run_id: Schema.String,
  session_id: Schema.String,
  phase: Schema.NullOr(Phase),
  error: Schema.String,
  /** The session's message that records the failure (none when the session is gone). */
  message_id: Schema.optional(Schema.NullOr(Schema.String))
})
export type ChatRunFailed = typeof ChatRunFailed.Type

/**
 * The evaluation looked for the files the criteria name (`paths`, relative to the workspace) and
 * found `missing` absent; recorded before it is used, so a replay reads the same.
 */
export const WorkspaceChecked = Schema.Struct({
  run_id: Schema.String,
  paths: Schema.Array(Schema.String),
  missing: Schema.Array(Schema.String)
})
export type WorkspaceChecked = typeof WorkspaceChecked.Type

/**
 * The agent of the seed of `generation` was briefed with the skills of these programs (in the
 * order its instructions list them; their texts are the programs view's): which programs were
 * in place and relevant is read outside the log, so it is recorded before the agent is briefed,
 * and a replay reads the same. Appended only when there is at least one.
 */
export const SkillsOffered = Schema.Struct({
  run_id: Schema.String,
  generation: Schema.Int,
  programs: Schema.Array(Schema.String)
})
export type SkillsOffered = typeof SkillsOffered.Type

export const chatRunStream = (runId: string) => `chat-run-${runId}`
