import { Schema } from "effect"

export const BUDGET_SET = "budget_set"
export const BUDGET_REMOVED = "budget_removed"
export const BUDGET_RESET = "budget_reset"
export const BUDGET_RESERVED = "budget_reserved"
export const BUDGET_CHARGED = "budget_charged"

const Count = Schema.Int.pipe(Schema.nonNegative())

/** Limits set; a fresh window starts at this event's time with nothing used. */
export const BudgetSetEvent = Schema.Struct({
  agent_id: Schema.String,
  token_budget: Count,
  calls_budget: Count,
  window_secs: Schema.Int.pipe(Schema.positive())
})
export type BudgetSetEvent = typeof BudgetSetEvent.Type

/** The budget is gone: the agent is no longer limited. */
export const BudgetRemovedEvent = Schema.Struct({ agent_id: Schema.String })
export type BudgetRemovedEvent = typeof BudgetRemovedEvent.Type

/** A fresh window starts at this event's time with nothing used. */
export const BudgetResetEvent = Schema.Struct({ agent_id: Schema.String })
export type BudgetResetEvent = typeof BudgetResetEvent.Type

/**
 * Tokens and calls reserved in the window; `new_window` when the previous window had ended at
 * the decision, so a new one starts at this event's time holding only this reservation.
 */
export const BudgetReservedEvent = Schema.Struct({
  agent_id: Schema.String,
  tokens: Count,
  calls: Count,
  new_window: Schema.Boolean
})
export type BudgetReservedEvent = typeof BudgetReservedEvent.Type

/**
 * Real usage recorded after the fact: `tokens` and `calls` used, of which `released_tokens`
 * had been reserved already (so only the difference counts; usage never goes below zero).
 */
export const BudgetChargedEvent = Schema.Struct({
  agent_id: Schema.String,
  tokens: Count,
  calls: Count,
  released_tokens: Count,
  new_window: Schema.Boolean
})
export type BudgetChargedEvent = typeof BudgetChargedEvent.Type

/** The stream of one agent's budget. */
export const budgetStream = (agentId: string) => `budget-${agentId}`
