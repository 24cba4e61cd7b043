/** The scheduler (seed section 10): the task queue's figures and contents. */
import { HttpApiBuilder } from "@effect/platform"
import { Scheduler, toTaskDetail } from "@annal/kernel"
import { AnnalApi } from "@annal/spec"
import { Effect } from "effect"
import { API_ACTOR, apiError, requestMeta, asOf } from "./common.js"

export const SchedulerLive = HttpApiBuilder.group(AnnalApi, "scheduler", (handlers) =>
  Effect.gen(function*() {
    const scheduler = yield* Scheduler
    return handlers
      .handle("stats", () => Effect.mapError(scheduler.stats, apiError("could not read the scheduler")))
      .handle("tasks", ({ urlParams }) => asOf(urlParams)(Effect.mapError(scheduler.tasks(urlParams.limit), apiError("could not read the queue"))))
      .handle("task", ({ path, urlParams }) =>
        asOf(urlParams)(Effect.map(scheduler.get(path.id), toTaskDetail).pipe(Effect.mapError(apiError("could not read the task")))))
      .handle("cancel", ({ path }) =>
        Effect.gen(function*() {
          const meta = yield* requestMeta
          const task = yield* scheduler.cancel(path.id, "cancelled through the API", { actor: API_ACTOR, meta })
          return { cancelled: task.id }
        }).pipe(Effect.mapError(apiError("could not cancel the task"))))
  }))
