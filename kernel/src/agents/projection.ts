import { AgentStatus } from "@annal/spec"
import { Effect, Schema } from "effect"
import * as Projection from "../projection/Projection.js"
import { decodeData } from "../shared/EventData.js"
import {
  AGENT_CREATED,
  AGENT_FAILED,
  AGENT_OUTPUT,
  AGENT_STARTED,
  AGENT_STOPPED,
  AgentCreated,
  AgentFailed,
  AgentOutput,
  AgentStarted,
  AgentStopped
} from "./events.js"

/** The agents and their counters; a row per agent, its status following its events. */
export const agentsProjection = Projection.make({
  name: "agents",
  version: 1,
  tables: [
    {
      name: "agents",
      ddl: `CREATE TABLE agents (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('Starting', 'Running', 'Idle', 'Failed', 'Stopped')),
        created_at TEXT NOT NULL,
        seed_id TEXT,
        task_id TEXT,
        session_id TEXT,
        steps INTEGER NOT NULL,
        tool_calls INTEGER NOT NULL,
        tokens INTEGER NOT NULL,
        stop_reason TEXT,
        error TEXT,
        updated_at TEXT NOT NULL,
        seq INTEGER NOT NULL
      );
      CREATE INDEX agents_status ON agents (status);`
    }
  ],
  handles: [AGENT_CREATED, AGENT_STARTED, AGENT_OUTPUT, AGENT_STOPPED, AGENT_FAILED],
  apply: (event, db) =>
    Effect.gen(function*() {
      switch (event.type) {
        case AGENT_CREATED: {
          const d = decodeData(AgentCreated, event)
          yield* db.run(
            `INSERT INTO agents (id, name, status, created_at, seed_id, task_id, session_id, steps, tool_calls, tokens, stop_reason, error, updated_at, seq)
             VALUES (?, ?, 'Starting', ?, ?, ?, ?, 0, 0, 0, NULL, NULL, ?, ?)`,
            [d.agent_id, d.name, event.at, d.seed_id, d.task_id ?? null, d.session_id ?? null, event.at, event.seq]
          )
          return
        }
        case AGENT_STARTED: {
          const d = decodeData(AgentStarted, event)
          yield* db.run(`UPDATE agents SET status = 'Running', updated_at = ? WHERE id = ?`, [event.at, d.agent_id])
          return
        }
        case AGENT_OUTPUT: {
          const d = decodeData(AgentOutput, event)
          yield* db.run(
            `UPDATE agents SET steps = ${db.greatest("steps", "?")}, tool_calls = tool_calls + ?, tokens = tokens + ?, updated_at = ? WHERE id = ?`,
            [d.step, d.tool_call_count, d.tokens, event.at, d.agent_id]
          )
          return
        }
        case AGENT_STOPPED: {
          const d = decodeData(AgentStopped, event)
          yield* db.run(`UPDATE agents SET status = 'Stopped', stop_reason = ?, updated_at = ? WHERE id = ?`, [d.reason, event.at, d.agent_id])
          return
        }
        case AGENT_FAILED: {
          const d = decodeData(AgentFailed, event)
          yield* db.run(`UPDATE agents SET status = 'Failed', error = ?, updated_at = ? WHERE id = ?`, [d.error, event.at, d.agent_id])
          return
        }
      }
  })
})

/** A row of `agents`, as the projection writes it. */
export const AgentRow = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  status: AgentStatus,
  created_at: Schema.String,
  seed_id: Schema.NullOr(Schema.String),
  task_id: Schema.NullOr(Schema.String),
  session_id: Schema.NullOr(Schema.String),
  steps: Schema.Number,
  tool_calls: Schema.Number,
  tokens: Schema.Number,
  stop_reason: Schema.NullOr(Schema.String),
  error: Schema.NullOr(Schema.String),
  updated_at: Schema.String,
  seq: Schema.Number
})
export type AgentRow = typeof AgentRow.Type

/** The counters `/api/status` reports, as one read of `agents` sums them. */
export const AgentCounts = Schema.Struct({
  active_count: Schema.Number,
  total_forked: Schema.Number,
  total_completed: Schema.Number,
  total_failed: Schema.Number
})
export type AgentCounts = typeof AgentCounts.Type
