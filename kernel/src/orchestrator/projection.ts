import { Effect, Schema } from "effect"
import * as Projection from "../projection/Projection.js"
import { decodeData } from "../shared/EventData.js"
import {
  CHAT_RUN_COMPLETED,
  CHAT_RUN_FAILED,
  CHAT_RUN_RESUMED,
  CHAT_RUN_STARTED,
  ChatRunCompleted,
  ChatRunFailed,
  ChatRunResumed,
  ChatRunStarted,
  PHASE_COMPLETED,
  PHASE_STARTED,
  Phase,
  PhaseCompleted,
  PhaseStarted
} from "./events.js"

/**
 * The chat runs: a row per run with the phase it is in, the seed it works on and how it ended.
 * A run still `running` when the server starts was cut off by the last stop.
 */
export const chatRunsProjection = Projection.make({
  name: "chat_runs",
  version: 1,
  tables: [
    {
      name: "chat_runs",
      ddl: `CREATE TABLE chat_runs (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        message_index INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
        phase TEXT,
        seed_id TEXT,
        generation INTEGER NOT NULL,
        resumes INTEGER NOT NULL,
        reply_id TEXT,
        error TEXT,
        actor TEXT NOT NULL,
        correlation_id TEXT,
        started_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        seq INTEGER NOT NULL
      );
      CREATE INDEX chat_runs_status ON chat_runs (status, seq);
      CREATE INDEX chat_runs_session ON chat_runs (session_id, seq);`
    }
  ],
  handles: [CHAT_RUN_STARTED, PHASE_STARTED, PHASE_COMPLETED, CHAT_RUN_RESUMED, CHAT_RUN_COMPLETED, CHAT_RUN_FAILED],
  apply: (event, db) =>
    Effect.gen(function*() {
      switch (event.type) {
        case CHAT_RUN_STARTED: {
          const d = decodeData(ChatRunStarted, event)
          yield* db.run(
            `INSERT INTO chat_runs (id, session_id, message_id, message_index, status, phase, seed_id, generation, resumes, reply_id, error, actor, correlation_id, started_at, updated_at, seq)
             VALUES (?, ?, ?, ?, 'running', NULL, NULL, 0, 0, NULL, NULL, ?, ?, ?, ?, ?)`,
            [d.run_id, d.session_id, d.message_id, d.message_index, event.actor, event.meta.correlation_id ?? null, event.at, event.at, event.seq]
          )
          return
        }
        case PHASE_STARTED: {
          const d = decodeData(PhaseStarted, event)
          if (d.run_id === undefined) return
          yield* db.run(`UPDATE chat_runs SET phase = ?, generation = coalesce(?, generation), updated_at = ? WHERE id = ?`, [
            d.phase,
            d.generation ?? null,
            event.at,
            d.run_id
          ])
          return
        }
        case PHASE_COMPLETED: {
          const d = decodeData(PhaseCompleted, event)
          if (d.run_id === undefined) return
          yield* db.run(`UPDATE chat_runs SET seed_id = coalesce(?, seed_id), generation = coalesce(?, generation), updated_at = ? WHERE id = ?`, [
            d.seed_id ?? null,
            d.generation ?? null,
            event.at,
            d.run_id
          ])
          return
        }
        case CHAT_RUN_RESUMED: {
          const d = decodeData(ChatRunResumed, event)
          yield* db.run(`UPDATE chat_runs SET resumes = resumes + 1, phase = ?, updated_at = ? WHERE id = ?`, [d.phase, event.at, d.run_id])
          return
        }
        case CHAT_RUN_COMPLETED: {
          const d = decodeData(ChatRunCompleted, event)
          yield* db.run(`UPDATE chat_runs SET status = 'completed', phase = ?, reply_id = ?, updated_at = ? WHERE id = ?`, [d.phase, d.message_id, event.at, d.run_id])
          return
        }
        case CHAT_RUN_FAILED: {
          const d = decodeData(ChatRunFailed, event)
          yield* db.run(`UPDATE chat_runs SET status = 'failed', error = ?, updated_at = ? WHERE id = ?`, [d.error, event.at, d.run_id])
          return
        }
      }
  })
})

/** A row of `chat_runs`. */
export const ChatRunRow = Schema.Struct({
  id: Schema.String,
  session_id: Schema.String,
  message_id: Schema.String,
  message_index: Schema.Number,
  status: Schema.Literal("running", "completed", "failed"),
  phase: Schema.NullOr(Phase),
  seed_id: Schema.NullOr(Schema.String),
  generation: Schema.Number,
  resumes: Schema.Number,
  reply_id: Schema.NullOr(Schema.String),
  error: Schema.NullOr(Schema.String),
  /** Who sent the message, and the request's correlation id: a resumed run carries them on. */
  actor: Schema.String,
  correlation_id: Schema.NullOr(Schema.String),
  started_at: Schema.String,
  updated_at: Schema.String,
  seq: Schema.Number
})
