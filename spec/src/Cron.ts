/**
 * Cron jobs (seed section 13): a goal submitted to the scheduler on a schedule. Schedules have six
 * fields (sec min hour day month weekday, UTC); a five-field expression is read with seconds 0
 * and stored as six fields.
 */
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Authorization } from "./Auth.js"
import { TaskPriority } from "./Scheduler.js"
import { AtSeqQuery, PageAtSeqQuery } from "./AtSeq.js"
import { NotFound } from "./Errors.js"
import { Page } from "./Pagination.js"
import { StreamName } from "./StreamName.js"

const notBlank = (max: number) =>
  Schema.String.pipe(
    Schema.maxLength(max),
    Schema.filter((s) => s.trim().length > 0, { message: () => "must not be empty" })
  )

const Lines = Schema.Array(Schema.String.pipe(Schema.maxLength(4000))).pipe(Schema.maxItems(100))

export const CronJobName = notBlank(200)
export const CronSchedule = notBlank(200)
export const CronGoal = notBlank(50_000)
export const CronToolchain = notBlank(100)

/** A cron job as `GET /api/cron-jobs` lists it (the seed's fields first). */
export const CronJob = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  schedule: Schema.String,
  goal: Schema.String,
  constraints: Schema.Array(Schema.String),
  toolchain: Schema.String,
  priority: TaskPriority,
  /** When it last fired (on schedule or triggered), or null. */
  last_run: Schema.NullOr(Schema.String),
  /** How the task of the last run ended: null while it is queued or running, or before any run. */
  last_success: Schema.NullOr(Schema.Boolean),
  acceptance_criteria: Schema.Array(Schema.String),
  /** The task the last run submitted. */
  last_task_id: Schema.NullOr(Schema.String),
  /** The next time it fires (UTC), from its schedule. */
  next_run: Schema.NullOr(Schema.String),
  created_at: Schema.String,
  updated_at: Schema.String,
  stream: StreamName
})
export type CronJob = typeof CronJob.Type

export const CronJobs = Schema.Struct({ jobs: Schema.Array(CronJob) })

export const CreateCronJob = Schema.Struct({
  name: CronJobName,
  schedule: CronSchedule,
  goal: CronGoal,
  constraints: Schema.optional(Lines),
  acceptance_criteria: Schema.optional(Lines),
  toolchain: Schema.optional(CronToolchain),
  priority: Schema.optional(TaskPriority)
})
export type CreateCronJob = typeof CreateCronJob.Type

/** `CronJobUpdate`: any of the fields of a new job; what is given replaces the current value. */
export const CronJobUpdate = Schema.Struct({
  name: Schema.optional(CronJobName),
  schedule: Schema.optional(CronSchedule),
  goal: Schema.optional(CronGoal),
  constraints: Schema.optional(Lines),
  acceptance_criteria: Schema.optional(Lines),
  toolchain: Schema.optional(CronToolchain),
  priority: Schema.optional(TaskPriority)
})
export type CronJobUpdate = typeof CronJobUpdate.Type

export const CronJobCreatedResponse = Schema.Struct({ id: Schema.String })
export const CronJobDeletedResponse = Schema.Struct({ deleted: Schema.String })
export const CronJobUpdatedResponse = Schema.Struct({ updated: Schema.String })
export const CronTriggerResult = Schema.Struct({
  job_id: Schema.String,
  success: Schema.Boolean,
  summary: Schema.String,
  /** The task this run submitted (null when submitting failed). */
  task_id: Schema.NullOr(Schema.String)
})
export type CronTriggerResult = typeof CronTriggerResult.Type

/**
 * Where a run stands: its task `queued`, `running`, or ended (`completed`, `failed`,
 * `cancelled`); `not_submitted` when the scheduler refused the task.
 */
export const CronRunStatus = Schema.Literal("queued", "running", "completed", "failed", "cancelled", "not_submitted")
export type CronRunStatus = typeof CronRunStatus.Type

/** One firing of a job, as `GET /api/cron-jobs/{id}/runs` lists it (Annal's addition to the seed). */
export const CronRun = Schema.Struct({
  /** The task the run submitted to the scheduler (`GET /api/scheduler/tasks/{id}`). */
  task_id: Schema.String,
  job_id: Schema.String,
  /** The log position of its `cron_triggered` event. */
  seq: Schema.Number,
  /** When it fired. */
  at: Schema.String,
  /** On its schedule, or triggered by hand. */
  reason: Schema.Literal("schedule", "manual"),
  status: CronRunStatus,
  /** The task's summary, error or cancellation reason once it ended; why it was not submitted. */
  outcome: Schema.NullOr(Schema.String),
  /** When its task ended (or submitting failed). */
  ended_at: Schema.NullOr(Schema.String),
  /** Its task's stream (`task-<task_id>`): the task's submission, start and end. */
  stream: StreamName
}).annotations({ identifier: "CronRun" })
export type CronRun = typeof CronRun.Type

const JobPath = Schema.Struct({ id: Schema.String })

export class CronGroup extends HttpApiGroup.make("cron")
  .add(HttpApiEndpoint.get("list", "/api/cron-jobs").setUrlParams(AtSeqQuery).addSuccess(CronJobs))
  .add(
    HttpApiEndpoint.post("create", "/api/cron-jobs")
      .setPayload(CreateCronJob)
      .addSuccess(CronJobCreatedResponse)
      .annotate(OpenApi.Description, "`schedule`: 6 fields (sec min hour day month weekday, UTC); 5 fields read as seconds 0.")
  )
  .add(HttpApiEndpoint.get("get", "/api/cron-jobs/:id").setPath(JobPath).setUrlParams(AtSeqQuery).addSuccess(CronJob))
  .add(
    HttpApiEndpoint.get("runs", "/api/cron-jobs/:id/runs")
      .setPath(JobPath)
      .setUrlParams(PageAtSeqQuery)
      .addSuccess(Page(CronRun))
      .addError(NotFound)
      .annotate(OpenApi.Description, "The job's past runs, newest first, each with what became of the task it submitted; 404 for an unknown job.")
  )
  .add(HttpApiEndpoint.del("delete", "/api/cron-jobs/:id").setPath(JobPath).addSuccess(CronJobDeletedResponse))
  .add(HttpApiEndpoint.post("edit", "/api/cron-jobs/:id/edit").setPath(JobPath).setPayload(CronJobUpdate).addSuccess(CronJobUpdatedResponse))
  .add(
    HttpApiEndpoint.post("trigger", "/api/cron-jobs/:id/trigger")
      .setPath(JobPath)
      .addSuccess(CronTriggerResult)
      .annotate(OpenApi.Description, "Runs the job now: submits its goal to the scheduler and says what became of it.")
  )
  .middleware(Authorization)
{}
