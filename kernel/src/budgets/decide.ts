/**
 * Pure decisions of the budgets context. A budget is a fixed window: it starts when the budget
 * is set or reset, or at the first reservation (or charge) after the previous window ended;
 * `now` (ms since the epoch) is passed in.
 */
import type { BudgetStatus, SetBudgetRequest } from "@annal/spec"
import { Either } from "effect"
import { EntityNotFound, Exhausted } from "../shared/errors.js"
import { type BudgetChargedEvent, type BudgetRemovedEvent, type BudgetReservedEvent, type BudgetResetEvent, type BudgetSetEvent, budgetStream } from "./events.js"

/** A budget as its view holds it. */
export interface BudgetState {
  readonly agent_id: string
  readonly token_budget: number
  readonly calls_budget: number
  readonly window_secs: number
  /** ISO time the current window started (the `at` of the event that started it). */
  readonly window_started_at: string
  readonly used_tokens: number
  readonly used_calls: number
  /** The budget stream's version the state reflects. */
  readonly version: number
}

/** What one call needs from the budget. */
export interface Amount {
  readonly tokens: number
  readonly calls: number
}

const notFound = (agentId: string) => new EntityNotFound({ what: "budget of agent", id: agentId })

/** Whether the window that started at `window_started_at` is still running at `now`. */
export const windowRunning = (state: BudgetState, now: number): boolean =>
  now < Date.parse(state.window_started_at) + state.window_secs * 1000

/** What is left at `now`: an ended window counts as a full allocation waiting to start. */
export const statusAt = (state: BudgetState, now: number): BudgetStatus => {
  const running = windowRunning(state, now)
  const tokens = Math.max(0, state.token_budget - (running ? state.used_tokens : 0))
  const calls = Math.max(0, state.calls_budget - (running ? state.used_calls : 0))
  const end = Date.parse(state.window_started_at) + state.window_secs * 1000
  return {
    agent_id: state.agent_id,
    tokens_remaining: tokens,
    calls_remaining: calls,
    window_remaining_secs: running ? Math.ceil((end - now) / 1000) : state.window_secs,
    is_exhausted: tokens === 0 || calls === 0,
    stream: budgetStream(state.agent_id)
  }
}

/** Sets (or replaces) the limits; always starts a fresh window. */
export const decideSet = (agentId: string, request: SetBudgetRequest): BudgetSetEvent => ({
  agent_id: agentId,
  token_budget: request.token_budget,
  calls_budget: request.calls_budget,
  window_secs: request.window_secs
})

/** Removes a budget that exists. */
export const decideRemove = (state: BudgetState | undefined, agentId: string): Either.Either<BudgetRemovedEvent, EntityNotFound> =>
  state === undefined ? Either.left(notFound(agentId)) : Either.right({ agent_id: agentId })

/** Restores the full allocation of a budget that exists. */
export const decideReset = (state: BudgetState | undefined, agentId: string): Either.Either<BudgetResetEvent, EntityNotFound> =>
  state === undefined ? Either.left(notFound(agentId)) : Either.right({ agent_id: agentId })

/**
 * Reserves an amount in the window running at `now` (a new one when it has ended). Refused
 * with Exhausted, reserving nothing, when either the tokens or the calls would exceed the budget.
 */
export const decideReserve = (
  state: BudgetState | undefined,
  agentId: string,
  amount: Amount,
  now: number
): Either.Either<BudgetReservedEvent, EntityNotFound | Exhausted> => {
  if (state === undefined) return Either.left(notFound(agentId))
  const running = windowRunning(state, now)
  const usedTokens = running ? state.used_tokens : 0
  const usedCalls = running ? state.used_calls : 0
  if (usedTokens + amount.tokens > state.token_budget) {
    const left = Math.max(0, state.token_budget - usedTokens)
    return Either.left(
      new Exhausted({ message: `budget exhausted: agent "${agentId}" has ${left} of ${state.token_budget} tokens left in this window, ${amount.tokens} requested` })
    )
  }
  if (usedCalls + amount.calls > state.calls_budget) {
    const left = Math.max(0, state.calls_budget - usedCalls)
    return Either.left(
      new Exhausted({ message: `budget exhausted: agent "${agentId}" has ${left} of ${state.calls_budget} calls left in this window, ${amount.calls} requested` })
    )
  }
  return Either.right({ agent_id: agentId, tokens: amount.tokens, calls: amount.calls, new_window: !running })
}

/**
 * Records real usage (never refused: it already happened). `releasedTokens` of it were reserved
 * before and are not counted twice. Nothing to record when the agent has no budget.
 */
export const decideCharge = (
  state: BudgetState | undefined,
  agentId: string,
  usage: Amount & { readonly releasedTokens: number },
  now: number
): BudgetChargedEvent | undefined => {
  if (state === undefined) return undefined
  if (usage.tokens === 0 && usage.calls === 0 && usage.releasedTokens === 0) return undefined
  return {
    agent_id: agentId,
    tokens: usage.tokens,
    calls: usage.calls,
    released_tokens: usage.releasedTokens,
    new_window: !windowRunning(state, now)
  }
}
