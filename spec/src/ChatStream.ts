/**
 * The chat's WebSocket protocol (`GET /api/chat/stream?token=`), frame by frame. A client text
 * frame is a chat message — plain text, or one of the JSON frames below; the server sends JSON
 * frames, each with the `seq` of the log event it reflects where there is one (a `token` has
 * none: tokens are live only). `docs/websocket.md` describes the protocol for client authors.
 */
import { Schema } from "effect"
import { ChatContent } from "./Chat.js"

/** Largest client frame read, in bytes; a bigger one closes the socket (1009). */
export const MAX_CLIENT_FRAME_BYTES = 128 * 1024

const SessionId = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200))

/** A message in a session (the socket's current one when `session_id` is left out). */
export const MessageFrame = Schema.Struct({
  type: Schema.Literal("message"),
  content: ChatContent,
  session_id: Schema.optional(SessionId),
  user_id: Schema.optional(Schema.String.pipe(Schema.maxLength(200)))
})

/** Replays what the client missed after `last_seq` (of one session, or of every chat) and then follows it live. */
export const ResumeFrame = Schema.Struct({
  type: Schema.Literal("resume"),
  last_seq: Schema.Int.pipe(Schema.nonNegative()),
  session_id: Schema.optional(SessionId)
})

/** Decides a pending approval. */
export const DecisionFrame = Schema.Struct({
  type: Schema.Literal("approve", "reject"),
  id: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(100))
})

export const ClientFrame = Schema.Union(MessageFrame, ResumeFrame, DecisionFrame)
export type ClientFrame = typeof ClientFrame.Type

/** The frames the server sends. */
export const SERVER_FRAME_TYPES = [
  "token",
  "tool_start",
  "tool_end",
  "approval_requested",
  "approval_resolved",
  "phase_started",
  "phase_completed",
  "reply",
  "error",
  "done"
] as const
export type ServerFrameType = (typeof SERVER_FRAME_TYPES)[number]

/** A server frame: its type, the seq it reflects (when it reflects an event) and its fields. */
export interface ServerFrame {
  readonly type: ServerFrameType
  readonly seq?: number | undefined
  readonly [field: string]: unknown
}
