import { Schema } from "effect"

export const SESSION_STARTED = "session_started"
export const MESSAGE_RECEIVED = "message_received"
export const AGENT_RESPONDED = "agent_responded"
export const SESSION_DELETED = "session_deleted"

const Metadata = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/** A conversation began (with its first message, in the same append). */
export const SessionStarted = Schema.Struct({
  session_id: Schema.String,
  user_id: Schema.String,
  /** The persona active when it began. */
  persona_id: Schema.NullOr(Schema.String),
  metadata: Metadata
})
export type SessionStarted = typeof SessionStarted.Type

/** The user said something. The content is the record; live streams leave it out. */
export const MessageReceived = Schema.Struct({
  session_id: Schema.String,
  message_id: Schema.String,
  user_id: Schema.String,
  content: Schema.String,
  /** The persona that answers from now on, when it changed. */
  persona_id: Schema.optional(Schema.String)
})
export type MessageReceived = typeof MessageReceived.Type

/** The agent answered in a session. */
export const AgentResponded = Schema.Struct({
  session_id: Schema.String,
  message_id: Schema.String,
  content: Schema.String,
  seed_id: Schema.NullOr(Schema.String),
  phase_reached: Schema.NullOr(Schema.String),
  evaluation_passed: Schema.NullOr(Schema.Boolean)
})
export type AgentResponded = typeof AgentResponded.Type

/** The session leaves the views; its events stay in the log. */
export const SessionDeleted = Schema.Struct({ session_id: Schema.String })
export type SessionDeleted = typeof SessionDeleted.Type

export const sessionStream = (id: string) => `session-${id}`
