/** Cron jobs (seed section 13): goals submitted to the scheduler on a schedule. */
import { HttpApiBuilder } from "@effect/platform"
import { Cron } from "@annal/kernel"
import { AnnalApi, pageRequest } from "@annal/spec"
import { Effect } from "effect"
import { API_ACTOR, apiError, requestMeta, asOf } from "./common.js"

export const CronLive = HttpApiBuilder.group(AnnalApi, "cron", (handlers) =>
  Effect.gen(function*() {
    const cron = yield* Cron
    const context = Effect.map(requestMeta, (meta) => ({ actor: API_ACTOR, meta }))
    return handlers
      .handle("list", ({ urlParams }) => asOf(urlParams)(Effect.map(cron.list, (jobs) => ({ jobs })).pipe(Effect.mapError(apiError("could not read the cron jobs")))))
      .handle("create", ({ payload }) =>
        Effect.flatMap(context, (ctx) => cron.create(payload, ctx)).pipe(
          Effect.map((id) => ({ id })),
          Effect.mapError(apiError("could not create the cron job"))
        ))
      .handle("get", ({ path, urlParams }) => asOf(urlParams)(Effect.mapError(cron.get(path.id), apiError("could not read the cron job"))))
      .handle("runs", ({ path, urlParams }) =>
        asOf(urlParams)(Effect.mapError(cron.runs(path.id, pageRequest(urlParams)), apiError("could not read the runs of the cron job"))))
      .handle("delete", ({ path }) =>
        Effect.flatMap(context, (ctx) => cron.remove(path.id, ctx)).pipe(
          Effect.map((id) => ({ deleted: id })),
          Effect.mapError(apiError("could not delete the cron job"))
        ))
      .handle("edit", ({ path, payload }) =>
        Effect.flatMap(context, (ctx) => cron.update(path.id, payload, ctx)).pipe(
          Effect.map((id) => ({ updated: id })),
          Effect.mapError(apiError("could not edit the cron job"))
        ))
      .handle("trigger", ({ path }) =>
        Effect.flatMap(context, (ctx) => cron.trigger(path.id, ctx)).pipe(Effect.mapError(apiError("could not run the cron job"))))
  }))
