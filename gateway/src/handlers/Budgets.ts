/** Per-agent token and call budgets (seed section 17). */
import { HttpApiBuilder } from "@effect/platform"
import { Budgets } from "@annal/kernel"
import { AnnalApi } from "@annal/spec"
import { Effect } from "effect"
import { API_ACTOR, apiError, requestMeta, asOf } from "./common.js"

export const BudgetsLive = HttpApiBuilder.group(AnnalApi, "budget", (handlers) =>
  Effect.gen(function*() {
    const budgets = yield* Budgets
    const context = Effect.map(requestMeta, (meta) => ({ actor: API_ACTOR, meta }))
    return handlers
      .handle("get", ({ path, urlParams }) => asOf(urlParams)(budgets.get(path.agent_id).pipe(Effect.mapError(apiError("could not read the budget")))))
      .handle("set", ({ path, payload }) =>
        Effect.flatMap(context, (ctx) => budgets.set(path.agent_id, payload, ctx)).pipe(
          Effect.as({ set: true as const, agent_id: path.agent_id }),
          Effect.mapError(apiError("could not set the budget"))
        ))
      .handle("remove", ({ path }) =>
        Effect.flatMap(context, (ctx) => budgets.remove(path.agent_id, ctx)).pipe(
          Effect.as({ removed: true as const, agent_id: path.agent_id }),
          Effect.mapError(apiError("could not remove the budget"))
        ))
      .handle("reserve", ({ path, payload }) =>
        Effect.flatMap(context, (ctx) => budgets.reserve(path.agent_id, { tokens: payload.tokens, calls: payload.calls ?? 1 }, ctx)).pipe(
          Effect.as({ reserved: true as const }),
          Effect.mapError(apiError("could not reserve from the budget"))
        ))
      .handle("reset", ({ path }) =>
        Effect.flatMap(context, (ctx) => budgets.reset(path.agent_id, ctx)).pipe(
          Effect.as({ reset: true as const, agent_id: path.agent_id }),
          Effect.mapError(apiError("could not reset the budget"))
        ))
  }))
