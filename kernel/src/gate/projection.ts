import { Effect } from "effect"
import * as Projection from "../projection/Projection.js"
import { decodeData } from "../shared/EventData.js"
import {
  TOOL_CALL_COMPLETED,
  TOOL_CALL_DENIED,
  TOOL_CALL_FAILED,
  TOOL_CALL_REQUESTED,
  TOOL_CALL_STARTED,
  ToolCallCompleted,
  ToolCallDenied,
  ToolCallFailed,
  ToolCallRequested,
  ToolCallStarted
} from "./events.js"

/** Every tool call with where it got to; a `requested` or `running` one after a crash never finished. */
export const toolCallsProjection = Projection.make({
  name: "tool_calls",
  version: 1,
  tables: [
    {
      name: "tool_calls",
      ddl: `CREATE TABLE tool_calls (
        id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        agent_id TEXT NOT NULL,
        call_id TEXT NOT NULL,
        tool TEXT NOT NULL,
        status TEXT NOT NULL,
        stage TEXT,
        reason TEXT,
        approval_id TEXT,
        exit_code INTEGER,
        duration_ms INTEGER,
        output_bytes INTEGER,
        output_sha256 TEXT,
        requested_at TEXT NOT NULL,
        finished_at TEXT,
        version INTEGER NOT NULL
      );
      CREATE INDEX tool_calls_agent ON tool_calls (agent_id, seq);`
    }
  ],
  handles: [TOOL_CALL_REQUESTED, TOOL_CALL_DENIED, TOOL_CALL_STARTED, TOOL_CALL_COMPLETED, TOOL_CALL_FAILED],
  apply: (event, db) =>
    Effect.gen(function*() {
      switch (event.type) {
        case TOOL_CALL_REQUESTED: {
          const d = decodeData(ToolCallRequested, event)
          yield* db.run(
            "INSERT INTO tool_calls (id, seq, agent_id, call_id, tool, status, requested_at, version) VALUES (?, ?, ?, ?, ?, 'requested', ?, ?)",
            [d.id, event.seq, d.agent_id, d.call_id, d.tool, event.at, event.version]
          )
          return
        }
        case TOOL_CALL_DENIED: {
          const d = decodeData(ToolCallDenied, event)
          yield* db.run("UPDATE tool_calls SET status = 'denied', stage = ?, reason = ?, approval_id = ?, finished_at = ?, version = ? WHERE id = ?", [
            d.stage, d.reason, d.approval_id, event.at, event.version, d.id
          ])
          return
        }
        case TOOL_CALL_STARTED: {
          const d = decodeData(ToolCallStarted, event)
          yield* db.run("UPDATE tool_calls SET status = 'running', approval_id = ?, version = ? WHERE id = ?", [d.approval_id, event.version, d.id])
          return
        }
        case TOOL_CALL_COMPLETED: {
          const d = decodeData(ToolCallCompleted, event)
          yield* db.run(
            "UPDATE tool_calls SET status = 'completed', exit_code = ?, duration_ms = ?, output_bytes = ?, output_sha256 = ?, finished_at = ?, version = ? WHERE id = ?",
            [d.exit_code, d.duration_ms, d.output_bytes, d.sha256, event.at, event.version, d.id]
          )
          return
        }
        case TOOL_CALL_FAILED: {
          const d = decodeData(ToolCallFailed, event)
          yield* db.run("UPDATE tool_calls SET status = 'failed', reason = ?, duration_ms = ?, finished_at = ?, version = ? WHERE id = ?", [
            d.reason, d.duration_ms, event.at, event.version, d.id
          ])
          return
        }
      }
  })
})
