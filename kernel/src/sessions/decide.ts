/** Pure decisions of the sessions context. */
import { Either } from "effect"
import { EntityNotFound, InvalidCommand } from "../shared/errors.js"
import {
  AGENT_RESPONDED,
  type AgentResponded,
  MESSAGE_RECEIVED,
  type MessageReceived,
  SESSION_DELETED,
  SESSION_STARTED,
  type SessionDeleted,
  type SessionStarted
} from "./events.js"

/** Session ids a client may choose: letters, digits, `.`, `_`, `:`, `-`; at most 128. */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/

/** Largest message or response, in characters (the chat endpoint allows 64 KB). */
export const MAX_CONTENT = 1024 * 1024

/** A session as decisions see it; undefined when it does not exist (or was deleted). */
export interface SessionState {
  readonly user_id: string
  readonly persona_id: string | null
}

export interface UserMessage {
  readonly content: string
  readonly user_id?: string | undefined
  /** The persona answering; recorded when it differs from the session's. */
  readonly persona_id?: string | null | undefined
  /** Only used when the message starts a session. */
  readonly metadata?: Readonly<Record<string, unknown>> | undefined
}

export interface Response {
  readonly content: string
  readonly seed_id?: string | null | undefined
  readonly phase_reached?: string | null | undefined
  readonly evaluation_passed?: boolean | null | undefined
}

export type SessionEvent =
  | { readonly type: typeof SESSION_STARTED; readonly data: SessionStarted }
  | { readonly type: typeof MESSAGE_RECEIVED; readonly data: MessageReceived }
  | { readonly type: typeof AGENT_RESPONDED; readonly data: AgentResponded }
  | { readonly type: typeof SESSION_DELETED; readonly data: SessionDeleted }

const tooLong = (content: string) => content.length > MAX_CONTENT

/** Decides a user's message: it starts the session when there is none (`session_started` first). */
export const decideUserMessage = (
  sessionId: string,
  messageId: string,
  session: SessionState | undefined,
  message: UserMessage
): Either.Either<ReadonlyArray<SessionEvent>, InvalidCommand> => {
  if (!SESSION_ID_PATTERN.test(sessionId)) return Either.left(new InvalidCommand({ message: `invalid session id: ${JSON.stringify(sessionId)}` }))
  if (tooLong(message.content)) return Either.left(new InvalidCommand({ message: `a message must be at most ${MAX_CONTENT} characters` }))
  const userId = message.user_id === undefined || message.user_id === "" ? session?.user_id ?? "default" : message.user_id
  const persona = message.persona_id ?? null
  const received: MessageReceived = {
    session_id: sessionId,
    message_id: messageId,
    user_id: userId,
    content: message.content,
    ...(session !== undefined && persona !== null && persona !== session.persona_id ? { persona_id: persona } : {})
  }
  if (session !== undefined) return Either.right([{ type: MESSAGE_RECEIVED, data: received }])
  return Either.right([
    { type: SESSION_STARTED, data: { session_id: sessionId, user_id: userId, persona_id: persona, metadata: { ...message.metadata } } },
    { type: MESSAGE_RECEIVED, data: received }
  ])
}

/** Decides `agent_responded` in an existing session. */
export const decideResponse = (
  sessionId: string,
  messageId: string,
  session: SessionState | undefined,
  response: Response
): Either.Either<ReadonlyArray<SessionEvent>, EntityNotFound | InvalidCommand> => {
  if (session === undefined) return Either.left(new EntityNotFound({ what: "session", id: sessionId }))
  if (tooLong(response.content)) return Either.left(new InvalidCommand({ message: `a response must be at most ${MAX_CONTENT} characters` }))
  return Either.right([{
    type: AGENT_RESPONDED,
    data: {
      session_id: sessionId,
      message_id: messageId,
      content: response.content,
      seed_id: response.seed_id ?? null,
      phase_reached: response.phase_reached ?? null,
      evaluation_passed: response.evaluation_passed ?? null
    }
  }])
}

/** Decides `session_deleted` for an existing session. */
export const decideDelete = (sessionId: string, session: SessionState | undefined): Either.Either<ReadonlyArray<SessionEvent>, EntityNotFound> =>
  session === undefined
    ? Either.left(new EntityNotFound({ what: "session", id: sessionId }))
    : Either.right([{ type: SESSION_DELETED, data: { session_id: sessionId } }])
