/** What a chat is to its callers: its input, its reply, its live tokens, and how it can fail. */
import type { EventStoreError } from "@annal/store"
import { Data, type Effect } from "effect"
import type { AgentKilled, AgentRunFailed } from "../agents/Supervisor.js"
import type { ModelError, ModelUnavailable } from "../llm/LanguageModel.js"
import type { TaskAbandoned } from "../scheduler/Scheduler.js"
import type { AlreadyExists, ConcurrentChange, EntityNotFound, InvalidCommand } from "../shared/errors.js"
import type { Phase } from "./events.js"

export interface ChatInput {
  readonly content: string
  readonly user_id?: string | undefined
  /** "" or omitted: a new session (an unknown id starts a session of that id). */
  readonly session_id?: string | undefined
}

export interface ChatReply {
  /** The id of the recorded reply (the session's agent message). */
  readonly id: string
  /** The user's message, as received. */
  readonly echo: string
  readonly reply: string
  readonly session_id: string
  /**
   * The phase the run ended in: `respond` when the message asked for no work and was answered
   * directly, `interview` when the reply asks questions, `evaluate` after a full loop (`evolve`
   * when an unreadable refinement stopped it).
   */
  readonly phase: Phase
}

/** A token the model streamed during a run (live only; the log keeps whole answers). */
export interface LiveToken {
  readonly run_id: string
  readonly session_id: string
  readonly phase: Phase
  /** The agent that produced it, in the execute phase. */
  readonly agent_id?: string | undefined
  readonly text: string
}

/** The chat did not answer within `orchestrator.chat_timeout_secs`. */
export class ChatTimedOut extends Data.TaggedError("ChatTimedOut")<{ readonly seconds: number; readonly stopped: boolean }> {
  override get message() {
    return this.stopped
      ? `the chat did not answer within ${this.seconds} s and was stopped (orchestrator.on_timeout is "stop")`
      : `the chat did not answer within ${this.seconds} s; it goes on in the background and its reply will be in the session`
  }
}

/** The run a retried request (same Idempotency-Key) asks for failed: its recorded reason. */
export class ChatRunFailedEarlier extends Data.TaggedError("ChatRunFailedEarlier")<{ readonly run_id: string; readonly reason: string }> {
  override get message() {
    return `the run of this Idempotency-Key (${this.run_id}) failed: ${this.reason}`
  }
}

/** Every agent of a group failed or was stopped: there is no work to evaluate. */
export class GroupFailed extends Data.TaggedError("GroupFailed")<{ readonly group_id: string; readonly message: string }> {}

export type ChatError =
  | ChatRunFailedEarlier
  | ModelUnavailable
  | ModelError
  | AgentRunFailed
  | AgentKilled
  | TaskAbandoned
  | GroupFailed
  | InvalidCommand
  | EntityNotFound
  | AlreadyExists
  | ConcurrentChange
  | EventStoreError

/** A run started in the background. */
export interface ChatRun {
  readonly run_id: string
  readonly session_id: string
  /** Waits for the reply. */
  readonly reply: Effect.Effect<ChatReply, ChatError>
}
