import { Effect, Schema } from "effect"
import * as Projection from "../projection/Projection.js"
import { decodeData } from "../shared/EventData.js"
import {
  BUDGET_CHARGED,
  BUDGET_REMOVED,
  BUDGET_RESERVED,
  BUDGET_RESET,
  BUDGET_SET,
  BudgetChargedEvent,
  BudgetRemovedEvent,
  BudgetReservedEvent,
  BudgetSetEvent
} from "./events.js"

/** A row of `budgets`: an agent's allocation, its window and what it used (the decisions' BudgetState, and when it changed). */
export const BudgetRow = Schema.Struct({
  agent_id: Schema.String,
  token_budget: Schema.Number,
  calls_budget: Schema.Number,
  window_secs: Schema.Number,
  window_started_at: Schema.String,
  used_tokens: Schema.Number,
  used_calls: Schema.Number,
  version: Schema.Number,
  updated_at: Schema.String
})

/**
 * Each agent's budget and its current window: when the window started (the `at` of the event
 * that started it) and what it has used. Whether it is still running is decided at read time.
 */
export const budgetsProjection = Projection.make({
  name: "budgets",
  version: 1,
  tables: [
    {
      name: "budgets",
      ddl: `CREATE TABLE budgets (
        agent_id TEXT PRIMARY KEY,
        token_budget INTEGER NOT NULL,
        calls_budget INTEGER NOT NULL,
        window_secs INTEGER NOT NULL,
        window_started_at TEXT NOT NULL,
        used_tokens INTEGER NOT NULL,
        used_calls INTEGER NOT NULL,
        version INTEGER NOT NULL,
        updated_at TEXT NOT NULL
      )`
    }
  ],
  handles: [BUDGET_SET, BUDGET_REMOVED, BUDGET_RESET, BUDGET_RESERVED, BUDGET_CHARGED],
  apply: (event, db) =>
    Effect.gen(function*() {
      switch (event.type) {
        case BUDGET_SET: {
          const d = decodeData(BudgetSetEvent, event)
          yield* db.run(
            `INSERT INTO budgets (agent_id, token_budget, calls_budget, window_secs, window_started_at, used_tokens, used_calls, version, updated_at)
             VALUES (?, ?, ?, ?, ?, 0, 0, ?, ?)
             ON CONFLICT (agent_id) DO UPDATE SET token_budget = excluded.token_budget, calls_budget = excluded.calls_budget,
               window_secs = excluded.window_secs, window_started_at = excluded.window_started_at, used_tokens = 0, used_calls = 0,
               version = excluded.version, updated_at = excluded.updated_at`,
            [d.agent_id, d.token_budget, d.calls_budget, d.window_secs, event.at, event.version, event.at]
          )
          return
        }
        case BUDGET_REMOVED: {
          const d = decodeData(BudgetRemovedEvent, event)
          yield* db.run("DELETE FROM budgets WHERE agent_id = ?", [d.agent_id])
          return
        }
        case BUDGET_RESET: {
          yield* db.run(
            "UPDATE budgets SET window_started_at = ?, used_tokens = 0, used_calls = 0, version = ?, updated_at = ? WHERE agent_id = ?",
            [event.at, event.version, event.at, event.data.agent_id]
          )
          return
        }
        case BUDGET_RESERVED: {
          const d = decodeData(BudgetReservedEvent, event)
          if (d.new_window) {
            yield* db.run(
              "UPDATE budgets SET window_started_at = ?, used_tokens = ?, used_calls = ?, version = ?, updated_at = ? WHERE agent_id = ?",
              [event.at, d.tokens, d.calls, event.version, event.at, d.agent_id]
            )
          } else {
            yield* db.run(
              "UPDATE budgets SET used_tokens = used_tokens + ?, used_calls = used_calls + ?, version = ?, updated_at = ? WHERE agent_id = ?",
              [d.tokens, d.calls, event.version, event.at, d.agent_id]
            )
          }
          return
        }
        case BUDGET_CHARGED: {
          const d = decodeData(BudgetChargedEvent, event)
          if (d.new_window) {
            yield* db.run(
              `UPDATE budgets SET window_started_at = ?, used_tokens = ${db.greatest("0", "? - ?")}, used_calls = ?, version = ?, updated_at = ? WHERE agent_id = ?`,
              [event.at, d.tokens, d.released_tokens, d.calls, event.version, event.at, d.agent_id]
            )
          } else {
            yield* db.run(
              `UPDATE budgets SET used_tokens = ${db.greatest("0", "used_tokens + ? - ?")}, used_calls = used_calls + ?, version = ?, updated_at = ? WHERE agent_id = ?`,
              [d.tokens, d.released_tokens, d.calls, event.version, event.at, d.agent_id]
            )
          }
          return
        }
      }
  })
})
