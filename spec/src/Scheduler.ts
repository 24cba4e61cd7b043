/**
 * The scheduler (seed section 10): the task queue. A task waits as `Queued` until the scheduler
 * admits it — by priority (higher first, first come first served within a priority), at most
 * `scheduler.max_concurrent` at a time and `scheduler.rate_limit_per_minute` starts per rolling
 * minute — and hands it to the agent runtime.
 */
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { IntegerParam } from "./IntegerParam.js"
import { Authorization } from "./Auth.js"
import { AtSeqQuery, atSeqField } from "./AtSeq.js"
import { StreamName } from "./StreamName.js"

export const TaskPriority = Schema.Literal("Low", "Normal", "High", "Critical")
export type TaskPriority = typeof TaskPriority.Type

export const TaskStatus = Schema.Literal("Queued", "Running", "Completed", "Failed", "Cancelled")
export type TaskStatus = typeof TaskStatus.Type

/** Where a task came from: a cron job, a chat session, or the API. */
export const TaskSource = Schema.Struct({
  kind: Schema.Literal("cron", "session", "api"),
  id: Schema.NullOr(Schema.String)
})
export type TaskSource = typeof TaskSource.Type

/** A task as the seed lists it, plus where it came from and when it started and finished. */
export const SchedulerTask = Schema.Struct({
  id: Schema.String,
  description: Schema.String,
  priority: TaskPriority,
  status: TaskStatus,
  created_at: Schema.String,
  error: Schema.NullOr(Schema.String),
  source: TaskSource,
  started_at: Schema.NullOr(Schema.String),
  finished_at: Schema.NullOr(Schema.String),
  stream: StreamName
})
export type SchedulerTask = typeof SchedulerTask.Type

/** One task with everything the runtime needs to run it, and its result. */
export const SchedulerTaskDetail = Schema.Struct({
  ...SchedulerTask.fields,
  goal: Schema.String,
  constraints: Schema.Array(Schema.String),
  acceptance_criteria: Schema.Array(Schema.String),
  toolchain: Schema.String,
  /** What the runtime reported when the task completed. */
  summary: Schema.NullOr(Schema.String)
})
export type SchedulerTaskDetail = typeof SchedulerTaskDetail.Type

export const SchedulerStats = Schema.Struct({
  queued: Schema.Number,
  running: Schema.Number,
  max_concurrent: Schema.Number,
  rate_limit_per_minute: Schema.Number,
  rate_remaining: Schema.Number
})
export type SchedulerStats = typeof SchedulerStats.Type

export const SchedulerTasks = Schema.Struct({
  queued: Schema.Array(SchedulerTask),
  running: Schema.Array(SchedulerTask)
})
export type SchedulerTasks = typeof SchedulerTasks.Type

/** Most tasks one list returns of each kind; `GET /api/scheduler/stats` has the exact counts. */
export const MAX_TASKS_LISTED = 10_000

export const SchedulerTasksQuery = Schema.Struct({
  limit: Schema.optional(IntegerParam(1, MAX_TASKS_LISTED)),
  ...atSeqField
})

export const TaskIdPath = Schema.Struct({ id: Schema.String })

export const TaskCancelledResponse = Schema.Struct({ cancelled: Schema.String })

export class SchedulerGroup extends HttpApiGroup.make("scheduler")
  .add(HttpApiEndpoint.get("stats", "/api/scheduler/stats").addSuccess(SchedulerStats))
  .add(
    HttpApiEndpoint.get("tasks", "/api/scheduler/tasks")
      .setUrlParams(SchedulerTasksQuery)
      .addSuccess(SchedulerTasks)
      .annotate(OpenApi.Description, "Queued tasks in admission order, then running tasks by start; at most `limit` (default 1000) of each.")
  )
  .add(HttpApiEndpoint.get("task", "/api/scheduler/tasks/:id").setPath(TaskIdPath).setUrlParams(AtSeqQuery).addSuccess(SchedulerTaskDetail))
  .add(
    HttpApiEndpoint.post("cancel", "/api/scheduler/tasks/:id/cancel")
      .setPath(TaskIdPath)
      .addSuccess(TaskCancelledResponse)
      .annotate(OpenApi.Description, "Cancels a queued or running task (an Annal addition to the Oxios API).")
  )
  .middleware(Authorization)
{}
