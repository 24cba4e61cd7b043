/**
 * The sessions service: the chat runtime records each user message and agent response here;
 * the API lists, reads and deletes sessions. A message without a known session starts one.
 */
import { SqlClient } from "@effect/sql"
import type { AgentResponse, PageRequest, Session, SessionSummary } from "@annal/spec"
import { EventStore, type EventStoreError, IdGenerator } from "@annal/store"
import { Context, Effect, Layer } from "effect"
import { type CommandContext, commandsOf } from "../shared/Command.js"
import { answerWith, commandHandler, eventOf } from "../shared/CommandHandler.js"
import { type ConcurrentChange, EntityNotFound, type InvalidCommand } from "../shared/errors.js"
import { type Paged, paged } from "../shared/Page.js"
import { decideDelete, decideResponse, decideUserMessage, type Response, type SessionState, type UserMessage } from "./decide.js"
import { AGENT_RESPONDED, MESSAGE_RECEIVED, SESSION_DELETED, SESSION_STARTED, sessionStream } from "./events.js"
import { SessionMessageRow, SessionRow } from "./projection.js"

/** Where a recorded message went. */
export interface RecordedMessage {
  readonly session_id: string
  readonly message_id: string
  readonly seq: number
  /** True when this message started the session. */
  readonly started: boolean
  /** Its place among the session's user messages, from 0 (messages recorded at once each get their own). */
  readonly index: number
}

export class Sessions extends Context.Tag("@annal/kernel/Sessions")<
  Sessions,
  {
    /** Sessions, most recently active first. */
    readonly list: (page: PageRequest) => Effect.Effect<Paged<SessionSummary>, EventStoreError>
    /** A session with its whole history. */
    readonly get: (id: string) => Effect.Effect<Session, EntityNotFound | EventStoreError>
    readonly delete: (id: string, context: CommandContext) => Effect.Effect<string, EntityNotFound | InvalidCommand | ConcurrentChange | EventStoreError>
    /** Records a user's message; without a session id, or with an unknown one, it starts that session. */
    readonly recordUserMessage: (
      sessionId: string | undefined,
      message: UserMessage,
      context: CommandContext
    ) => Effect.Effect<RecordedMessage, InvalidCommand | ConcurrentChange | EventStoreError>
    /** Records the agent's response in an existing session. */
    readonly recordResponse: (
      sessionId: string,
      response: Response,
      context: CommandContext
    ) => Effect.Effect<{ readonly message_id: string; readonly seq: number }, EntityNotFound | InvalidCommand | ConcurrentChange | EventStoreError>
  }
>() {
  static readonly layer = Layer.effect(
    Sessions,
    Effect.gen(function*() {
      const ids = yield* IdGenerator
      const context = yield* Effect.context<SqlClient.SqlClient | EventStore>()
      const run = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient | EventStore>) => Effect.provide(effect, context)
      const { count, view } = commandsOf(Context.get(context, EventStore), Context.get(context, SqlClient.SqlClient))
      const handle = commandHandler(Context.get(context, EventStore))

      const row = (id: string) =>
        Effect.map(view("sessions", SessionRow, (sql) => sql`SELECT * FROM sessions WHERE id = ${id}`), ([r]) => r)

      const load = (command: { readonly id: string }) =>
        Effect.map(row(command.id), (r): SessionState | undefined => r === undefined ? undefined : { user_id: r.user_id, persona_id: r.active_persona_id })
      const onSession = { stream: (command: { readonly id: string }) => sessionStream(command.id), load }

      const withSession = (ctx: CommandContext, sessionId: string): CommandContext => ({
        actor: ctx.actor,
        meta: { ...ctx.meta, session_id: sessionId }
      })

      // a session may get two messages at once (two tabs, a socket's messages in a burst): the
      // handler decides the second again on the state the first left
      const userMessage = handle({
        ...onSession,
        decide: (command: { readonly id: string; readonly messageId: string; readonly message: UserMessage }, state) =>
          decideUserMessage(command.id, command.messageId, state, command.message),
        emits: [MESSAGE_RECEIVED],
        // an idempotent retry gets back the first attempt's events
        answer: (stored) => {
          const received = eventOf(stored, MESSAGE_RECEIVED)!
          return Effect.map(
            count("session_messages", (sql) =>
              sql`SELECT count(*) AS n FROM session_messages WHERE session_id = ${String(received.data.session_id)} AND role = 'user' AND seq < ${received.seq}`),
            (before): RecordedMessage => ({
              session_id: String(received.data.session_id),
              message_id: String(received.data.message_id),
              seq: received.seq,
              started: eventOf(stored, SESSION_STARTED) !== undefined,
              index: before
            })
          )
        }
      })
      const recordUserMessage = (sessionId: string | undefined, message: UserMessage, ctx: CommandContext) =>
        Effect.gen(function*() {
          const id = sessionId === undefined || sessionId === "" ? yield* ids.next : sessionId
          return yield* userMessage({ id, messageId: yield* ids.next, message }, withSession(ctx, id))
        })

      const response = handle({
        ...onSession,
        decide: (command: { readonly id: string; readonly messageId: string; readonly response: Response }, state) =>
          decideResponse(command.id, command.messageId, state, command.response),
        emits: [AGENT_RESPONDED],
        answer: answerWith((stored) => {
          const responded = eventOf(stored, AGENT_RESPONDED)!
          return { message_id: String(responded.data.message_id), seq: responded.seq }
        })
      })
      const recordResponse = (sessionId: string, r: Response, ctx: CommandContext) =>
        Effect.flatMap(ids.next, (messageId) => response({ id: sessionId, messageId, response: r }, withSession(ctx, sessionId)))

      const deletion = handle({
        ...onSession,
        decide: (command: { readonly id: string }, state) => decideDelete(command.id, state),
        emits: [SESSION_DELETED],
        answer: answerWith((stored) => String(eventOf(stored, SESSION_DELETED)!.data.session_id))
      })
      const remove = (id: string, ctx: CommandContext) => deletion({ id }, withSession(ctx, id))

      const get = (id: string) =>
        Effect.gen(function*() {
          const s = yield* row(id)
          if (s === undefined) return yield* new EntityNotFound({ what: "session", id })
          const messages = yield* view("session_messages", SessionMessageRow, (sql) =>
            sql`SELECT * FROM session_messages WHERE session_id = ${id} ORDER BY seq`)
          return {
            id: s.id,
            user_id: s.user_id,
            user_messages: messages.filter((m) => m.role === "user").map((m) => m.content),
            agent_responses: messages.filter((m) => m.role === "agent").map((m): AgentResponse => ({
              content: m.content,
              session_id: s.id,
              seed_id: m.seed_id,
              phase_reached: m.phase_reached,
              evaluation_passed: m.evaluation_passed,
              timestamp: m.at
            })),
            active_seed_id: s.active_seed_id,
            active_persona_id: s.active_persona_id,
            created_at: s.created_at,
            updated_at: s.updated_at,
            metadata: s.metadata,
            stream: sessionStream(s.id)
          } satisfies Session
        })

      return Sessions.of({
        list: (page) =>
          run(paged(
            "sessions",
            page,
            (sql) => sql`SELECT count(*) AS n FROM sessions`,
            SessionRow,
            (sql, limit, offset) => sql`SELECT * FROM sessions ORDER BY last_seq DESC LIMIT ${limit} OFFSET ${offset}`,
            (r): SessionSummary => ({
              id: r.id,
              user_id: r.user_id,
              message_count: r.message_count,
              active_seed_id: r.active_seed_id,
              created_at: r.created_at,
              updated_at: r.updated_at,
              stream: sessionStream(r.id)
            })
          )),
        get,
        delete: remove,
        recordUserMessage,
        recordResponse
      })
    })
  )
}
