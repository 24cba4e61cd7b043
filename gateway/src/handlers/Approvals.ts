/** Human-in-the-loop approvals (seed section 20). */
import { HttpApiBuilder } from "@effect/platform"
import { Approvals } from "@annal/kernel"
import { AnnalApi } from "@annal/spec"
import { Effect } from "effect"
import { API_ACTOR, apiError, requestMeta, asOf } from "./common.js"

export const ApprovalsLive = HttpApiBuilder.group(AnnalApi, "approvals", (handlers) =>
  Effect.gen(function*() {
    const approvals = yield* Approvals
    const context = Effect.map(requestMeta, (meta) => ({ actor: API_ACTOR, meta }))
    return handlers
      .handle("list", ({ urlParams }) => asOf(urlParams)(approvals.list(urlParams).pipe(Effect.mapError(apiError("could not read approvals")))))
      .handle("approve", ({ path }) =>
        Effect.flatMap(context, (ctx) => approvals.approve(path.id, ctx)).pipe(
          Effect.as({ status: "approved" as const, id: path.id }),
          Effect.mapError(apiError("could not approve"))
        ))
      .handle("reject", ({ path }) =>
        Effect.flatMap(context, (ctx) => approvals.reject(path.id, ctx)).pipe(
          Effect.as({ status: "rejected" as const, id: path.id }),
          Effect.mapError(apiError("could not reject"))
        ))
  }))
