/** The cron context's events, on the stream `cron-<id>`. */
import { TaskPriority } from "@annal/spec"
import { Schema } from "effect"

export const CRON_JOB_CREATED = "cron_job_created"
export const CRON_JOB_UPDATED = "cron_job_updated"
export const CRON_JOB_DELETED = "cron_job_deleted"
export const CRON_TRIGGERED = "cron_triggered"
export const CRON_RUN_FAILED = "cron_run_failed"

/** What a job is: its schedule (always six fields) and the task it submits. */
export const CronJobDefinition = Schema.Struct({
  name: Schema.String,
  schedule: Schema.String,
  goal: Schema.String,
  constraints: Schema.Array(Schema.String),
  acceptance_criteria: Schema.Array(Schema.String),
  toolchain: Schema.String,
  priority: TaskPriority
})
export type CronJobDefinition = typeof CronJobDefinition.Type

/** A job was created. */
export const CronJobCreated = Schema.Struct({ id: Schema.String, ...CronJobDefinition.fields })
export type CronJobCreated = typeof CronJobCreated.Type

/** A job was edited: its whole definition afterwards, and which fields changed. */
export const CronJobUpdated = Schema.Struct({
  id: Schema.String,
  ...CronJobDefinition.fields,
  changed: Schema.Array(Schema.String)
})
export type CronJobUpdated = typeof CronJobUpdated.Type

export const CronJobDeleted = Schema.Struct({ id: Schema.String })
export type CronJobDeleted = typeof CronJobDeleted.Type

/** A job fired — on its schedule or triggered by hand — and submits `task_id` to the scheduler. */
export const CronTriggered = Schema.Struct({
  job_id: Schema.String,
  task_id: Schema.String,
  reason: Schema.Literal("schedule", "manual")
})
export type CronTriggered = typeof CronTriggered.Type

/** The task of a run could not be submitted. */
export const CronRunFailed = Schema.Struct({ job_id: Schema.String, task_id: Schema.String, error: Schema.String })
export type CronRunFailed = typeof CronRunFailed.Type

/** The stream a job's events are appended to. */
export const cronStream = (id: string) => `cron-${id}`
