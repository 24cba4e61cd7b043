import { Effect, Schema } from "effect"
import * as Projection from "../projection/Projection.js"
import { decodeData } from "../shared/EventData.js"
import { Flag } from "../shared/ViewRow.js"
import {
  AGENT_RESPONDED,
  AgentResponded,
  MESSAGE_RECEIVED,
  MessageReceived,
  SESSION_DELETED,
  SESSION_STARTED,
  SessionDeleted,
  SessionStarted
} from "./events.js"

/** A row of `sessions`: `metadata` is a JSON object. */
export const SessionRow = Schema.Struct({
  id: Schema.String,
  user_id: Schema.String,
  message_count: Schema.Number,
  active_seed_id: Schema.NullOr(Schema.String),
  active_persona_id: Schema.NullOr(Schema.String),
  metadata: Schema.parseJson(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  created_at: Schema.String,
  updated_at: Schema.String,
  last_seq: Schema.Number
})

/** A row of `session_messages`: `evaluation_passed` 0 or 1. */
export const SessionMessageRow = Schema.Struct({
  seq: Schema.Number,
  session_id: Schema.String,
  message_id: Schema.String,
  role: Schema.Literal("user", "agent"),
  content: Schema.String,
  seed_id: Schema.NullOr(Schema.String),
  phase_reached: Schema.NullOr(Schema.String),
  evaluation_passed: Schema.NullOr(Flag),
  at: Schema.String
})

/** Sessions and their messages, oldest first; a deleted session leaves both tables. */
export const sessionsProjection = Projection.make({
  name: "sessions",
  version: 1,
  tables: [
    {
      name: "sessions",
      ddl: `CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        message_count INTEGER NOT NULL,
        active_seed_id TEXT,
        active_persona_id TEXT,
        metadata TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        last_seq INTEGER NOT NULL
      );
      CREATE INDEX sessions_recent ON sessions (last_seq);`
    },
    {
      name: "session_messages",
      ddl: `CREATE TABLE session_messages (
        seq INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('user', 'agent')),
        content TEXT NOT NULL,
        seed_id TEXT,
        phase_reached TEXT,
        evaluation_passed INTEGER,
        at TEXT NOT NULL
      );
      CREATE INDEX session_messages_session ON session_messages (session_id, seq);`
    }
  ],
  handles: [SESSION_STARTED, MESSAGE_RECEIVED, AGENT_RESPONDED, SESSION_DELETED],
  apply: (event, db) =>
    Effect.gen(function*() {
      switch (event.type) {
        case SESSION_STARTED: {
          const d = decodeData(SessionStarted, event)
          yield* db.run(
            `INSERT INTO sessions (id, user_id, message_count, active_seed_id, active_persona_id, metadata, created_at, updated_at, last_seq)
             VALUES (?, ?, 0, NULL, ?, ?, ?, ?, ?)`,
            [d.session_id, d.user_id, d.persona_id, JSON.stringify(d.metadata), event.at, event.at, event.seq]
          )
          return
        }
        case MESSAGE_RECEIVED: {
          const d = decodeData(MessageReceived, event)
          yield* db.run(
            `INSERT INTO session_messages (seq, session_id, message_id, role, content, seed_id, phase_reached, evaluation_passed, at)
             VALUES (?, ?, ?, 'user', ?, NULL, NULL, NULL, ?)`,
            [event.seq, d.session_id, d.message_id, d.content, event.at]
          )
          yield* db.run(
            `UPDATE sessions SET message_count = message_count + 1, active_persona_id = coalesce(?, active_persona_id),
               updated_at = ?, last_seq = ? WHERE id = ?`,
            [d.persona_id ?? null, event.at, event.seq, d.session_id]
          )
          return
        }
        case AGENT_RESPONDED: {
          const d = decodeData(AgentResponded, event)
          yield* db.run(
            `INSERT INTO session_messages (seq, session_id, message_id, role, content, seed_id, phase_reached, evaluation_passed, at)
             VALUES (?, ?, ?, 'agent', ?, ?, ?, ?, ?)`,
            [
              event.seq,
              d.session_id,
              d.message_id,
              d.content,
              d.seed_id,
              d.phase_reached,
              d.evaluation_passed === null ? null : d.evaluation_passed ? 1 : 0,
              event.at
            ]
          )
          yield* db.run(
            `UPDATE sessions SET message_count = message_count + 1, active_seed_id = coalesce(?, active_seed_id),
               updated_at = ?, last_seq = ? WHERE id = ?`,
            [d.seed_id, event.at, event.seq, d.session_id]
          )
          return
        }
        case SESSION_DELETED: {
          const d = decodeData(SessionDeleted, event)
          yield* db.run("DELETE FROM session_messages WHERE session_id = ?", [d.session_id])
          yield* db.run("DELETE FROM sessions WHERE id = ?", [d.session_id])
          return
        }
      }
  })
})
