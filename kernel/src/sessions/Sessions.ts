/**
 * The sessions service: the chat runtime records each user message and agent response here;
 * the API lists, reads and deletes sessions. A message without a known session starts one.
 */
import { SqlClient } from "@effect/sql"
import type { AgentResponse, PageRequest, Session, SessionSummary } from "@annal/spec"
import { EventStore, type EventStoreError, IdGenerator, type StoredEvent } from "@annal/store"
import { Context, Effect, Layer } from "effect"
import { type CommandContext, commandsOf, retryingConflicts } from "../shared/Command.js"
import { type ConcurrentChange, EntityNotFound, type InvalidCommand } from "../shared/errors.js"
import { type Paged, paged } from "../shared/Page.js"
import { decideDelete, decideResponse, decideUserMessage, type Response, type SessionState, type UserMessage } from "./decide.js"
import { AGENT_RESPONDED, MESSAGE_RECEIVED, SESSION_DELETED, SESSION_STARTED, sessionStream } from "./events.js"

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

interface SessionRow {
  readonly id: string
  readonly user_id: string
  readonly message_count: number
  readonly active_seed_id: string | null
  readonly active_persona_id: string | null
  readonly metadata: string
  readonly created_at: string
  readonly updated_at: string
}

interface MessageRow {
  readonly role: "user" | "agent"
  readonly content: string
  readonly seed_id: string | null
  readonly phase_reached: string | null
  readonly evaluation_passed: number | null
  readonly at: string
}

export class Sessions extends Context.Tag("@annal/kernel/Sessions")<
  Sessions,
  {
    /** Sessions, most recently active first. */
    readonly list: (page: PageRequest) => Effect.Effect<Paged<SessionSummary>, EventStoreError>
    /** A session with its whole history. */
    readonly get: (id: string) => Effect.Effect<Session, EntityNotFound | EventStoreError>
    readonly delete: (id: string, context: CommandContext) => Effect.Effect<string, EntityNotFound | ConcurrentChange | EventStoreError>
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
      // the chat records a message and a response every turn: bound to the store, nothing to provide
      const { appendDecided, priorEvents, streamVersion, view } = commandsOf(Context.get(context, EventStore))

      const row = (id: string) =>
        view("a session", (db) =>
          db.get<SessionRow>(
            `SELECT id, user_id, message_count, active_seed_id, active_persona_id, metadata, created_at, updated_at FROM sessions WHERE id = ?`,
            [id]
          ))

      /** The stream version first, then the view: a change in between makes the append conflict. */
      const load = (id: string) =>
        Effect.gen(function*() {
          const version = yield* streamVersion(sessionStream(id))
          const r = yield* row(id)
          const state: SessionState | undefined = r === undefined ? undefined : { user_id: r.user_id, persona_id: r.active_persona_id }
          return { version, state }
        })

      const withSession = (ctx: CommandContext, sessionId: string): CommandContext => ({
        actor: ctx.actor,
        meta: { ...ctx.meta, session_id: sessionId }
      })
      const find = (events: ReadonlyArray<StoredEvent>, type: string) => events.find((e) => e.type === type)

      // a session may get two messages at once (two tabs, a socket's messages in a burst)
      const recordUserMessage = (sessionId: string | undefined, message: UserMessage, ctx: CommandContext) =>
        retryingConflicts(Effect.gen(function*() {
          const id = sessionId === undefined || sessionId === "" ? (yield* ids.next) : sessionId
          const { state, version } = yield* load(id)
          const events = yield* decideUserMessage(id, (yield* ids.next), state, message)
          const stored = yield* appendDecided(sessionStream(id), version, events, withSession(ctx, id))
          // an idempotent retry gets back the first attempt's events
          const received = find(stored, MESSAGE_RECEIVED)!
          const before = yield* view("a session's messages", (db) =>
            db.get<{ n: number }>("SELECT count(*) AS n FROM session_messages WHERE session_id = ? AND role = 'user' AND seq < ?", [
              String(received.data.session_id),
              received.seq
            ]))
          return {
            session_id: String(received.data.session_id),
            message_id: String(received.data.message_id),
            seq: received.seq,
            started: find(stored, SESSION_STARTED) !== undefined,
            index: before?.n ?? 0
          }
        }))

      const recordResponse = (sessionId: string, response: Response, ctx: CommandContext) =>
        retryingConflicts(Effect.gen(function*() {
          const { state, version } = yield* load(sessionId)
          const events = yield* decideResponse(sessionId, (yield* ids.next), state, response)
          const stored = yield* appendDecided(sessionStream(sessionId), version, events, withSession(ctx, sessionId))
          const responded = find(stored, AGENT_RESPONDED)!
          return { message_id: String(responded.data.message_id), seq: responded.seq }
        }))

      const remove = (id: string, ctx: CommandContext) =>
        Effect.gen(function*() {
          const prior = find((yield* priorEvents(ctx.meta)) ?? [], SESSION_DELETED)
          if (prior !== undefined) return String(prior.data.session_id)
          const { state, version } = yield* load(id)
          yield* appendDecided(sessionStream(id), version, yield* decideDelete(id, state), withSession(ctx, id))
          return id
        })

      const get = (id: string) =>
        Effect.gen(function*() {
          const s = yield* row(id)
          if (s === undefined) return yield* new EntityNotFound({ what: "session", id })
          const messages = yield* view("a session's messages", (db) =>
            db.all<MessageRow>(
              "SELECT role, content, seed_id, phase_reached, evaluation_passed, at FROM session_messages WHERE session_id = ? ORDER BY seq",
              [id]
            ))
          return {
            id: s.id,
            user_id: s.user_id,
            user_messages: messages.filter((m) => m.role === "user").map((m) => m.content),
            agent_responses: messages.filter((m) => m.role === "agent").map((m): AgentResponse => ({
              content: m.content,
              session_id: s.id,
              seed_id: m.seed_id,
              phase_reached: m.phase_reached,
              evaluation_passed: m.evaluation_passed === null ? null : m.evaluation_passed === 1,
              timestamp: m.at
            })),
            active_seed_id: s.active_seed_id,
            active_persona_id: s.active_persona_id,
            created_at: s.created_at,
            updated_at: s.updated_at,
            metadata: JSON.parse(s.metadata)
          } satisfies Session
        })

      return Sessions.of({
        list: (page) =>
          run(paged(
            "sessions",
            page,
            (sql) => sql<{ n: number }>`SELECT count(*) AS n FROM sessions`,
            (sql, limit, offset) =>
              sql<SessionRow>`SELECT id, user_id, message_count, active_seed_id, active_persona_id, metadata, created_at, updated_at
                FROM sessions ORDER BY last_seq DESC LIMIT ${limit} OFFSET ${offset}`,
            (r): SessionSummary => ({
              id: r.id,
              user_id: r.user_id,
              message_count: r.message_count,
              active_seed_id: r.active_seed_id,
              created_at: r.created_at,
              updated_at: r.updated_at
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
