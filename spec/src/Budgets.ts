/**
 * Per-agent token and call budgets over a fixed window (seed section 17). A window starts when
 * the budget is set or reset, or at the first reservation after the previous window ended.
 */
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Authorization } from "./Auth.js"
import { BadRequest, Conflict, NotFound, PaymentRequired } from "./Errors.js"
import { AgentName } from "./Permissions.js"
import { AtSeqQuery } from "./AtSeq.js"
import { StreamName } from "./StreamName.js"

const Count = Schema.Int.pipe(Schema.between(0, Number.MAX_SAFE_INTEGER))

export const BudgetStatus = Schema.Struct({
  agent_id: Schema.String,
  tokens_remaining: Schema.Number,
  calls_remaining: Schema.Number,
  /** Seconds left in the running window; the full window when none is running. */
  window_remaining_secs: Schema.Number,
  is_exhausted: Schema.Boolean,
  stream: StreamName
})
export type BudgetStatus = typeof BudgetStatus.Type

/** The body of `POST /api/budget/{agent_id}`. */
export const SetBudgetRequest = Schema.Struct({
  token_budget: Count,
  calls_budget: Count,
  window_secs: Schema.Int.pipe(Schema.between(1, 315_360_000))
})
export type SetBudgetRequest = typeof SetBudgetRequest.Type

/** The body of `POST /api/budget/{agent_id}/reserve`; a reservation counts as `calls` calls (1). */
export const ReserveRequest = Schema.Struct({
  tokens: Count,
  calls: Schema.optional(Count)
})
export type ReserveRequest = typeof ReserveRequest.Type

export const BudgetSet = Schema.Struct({ set: Schema.Literal(true), agent_id: Schema.String })
export const BudgetRemoved = Schema.Struct({ removed: Schema.Literal(true), agent_id: Schema.String })
export const BudgetReserved = Schema.Struct({ reserved: Schema.Literal(true) })
export const BudgetReset = Schema.Struct({ reset: Schema.Literal(true), agent_id: Schema.String })

const AgentIdPath = Schema.Struct({ agent_id: AgentName })

export class BudgetGroup extends HttpApiGroup.make("budget")
  .add(HttpApiEndpoint.get("get", "/api/budget/:agent_id").setPath(AgentIdPath).setUrlParams(AtSeqQuery).addSuccess(BudgetStatus).addError(NotFound))
  .add(
    HttpApiEndpoint.post("set", "/api/budget/:agent_id")
      .setPath(AgentIdPath)
      .setPayload(SetBudgetRequest)
      .addSuccess(BudgetSet)
      .addError(BadRequest)
      .addError(Conflict)
      .annotate(OpenApi.Description, "Sets the limits and starts a fresh window with nothing used.")
  )
  .add(HttpApiEndpoint.del("remove", "/api/budget/:agent_id").setPath(AgentIdPath).addSuccess(BudgetRemoved).addError(NotFound))
  .add(
    HttpApiEndpoint.post("reserve", "/api/budget/:agent_id/reserve")
      .setPath(AgentIdPath)
      .setPayload(ReserveRequest)
      .addSuccess(BudgetReserved)
      .addError(BadRequest)
      .addError(NotFound)
      .addError(PaymentRequired)
      .annotate(OpenApi.Description, "Reserves tokens (and calls, 1 by default) in the current window; 402 and nothing reserved when it would exceed the budget.")
  )
  .add(
    HttpApiEndpoint.post("reset", "/api/budget/:agent_id/reset")
      .setPath(AgentIdPath)
      .addSuccess(BudgetReset)
      .addError(NotFound)
      .annotate(OpenApi.Description, "Starts a fresh window with the full allocation.")
  )
  .middleware(Authorization)
{}
