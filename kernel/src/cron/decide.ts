/** Pure decisions and evolution of cron jobs. */
import type { CreateCronJob, CronJobUpdate, CronRun } from "@annal/spec"
import type { StoredEvent } from "@annal/store"
import { Either } from "effect"
import { validateDetailed } from "node-cron"
import { InvalidCommand } from "../shared/errors.js"
import { decodeData } from "../shared/EventData.js"
import {
  TASK_CANCELLED,
  TASK_COMPLETED,
  TASK_FAILED,
  TASK_STARTED,
  TaskCancelled,
  TaskCompleted,
  TaskEnded,
  TaskFailed
} from "../scheduler/events.js"
import {
  CRON_JOB_CREATED,
  CRON_JOB_DELETED,
  CRON_JOB_UPDATED,
  CRON_RUN_FAILED,
  CRON_TRIGGERED,
  CronJobCreated,
  type CronJobDefinition,
  type CronJobDeleted,
  CronJobUpdated,
  CronRunFailed,
  CronTriggered
} from "./events.js"

/** A job as its events made it. */
export interface CronJobState extends CronJobDefinition {
  readonly id: string
  /** Its stream's version. */
  readonly version: number
  readonly created_at: string
  readonly updated_at: string
  readonly last_run: string | null
  readonly last_success: boolean | null
  readonly last_task_id: string | null
}

export type CronDecision =
  | { readonly type: typeof CRON_JOB_CREATED; readonly data: CronJobCreated }
  | { readonly type: typeof CRON_JOB_UPDATED; readonly data: CronJobUpdated }
  | { readonly type: typeof CRON_JOB_DELETED; readonly data: CronJobDeleted }
  | { readonly type: typeof CRON_TRIGGERED; readonly data: CronTriggered }
  | { readonly type: typeof CRON_RUN_FAILED; readonly data: CronRunFailed }

/** The five-field forms of node-cron's macros, read like any five-field expression. */
const MACROS: Readonly<Record<string, string>> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *"
}

/**
 * A schedule as stored: six fields (sec min hour day month weekday) separated by one space. A
 * five-field expression (or a macro such as `@daily`) is read with seconds 0. Invalid → the
 * error names the field `schedule`.
 */
export const normaliseSchedule = (expression: string): Either.Either<string, InvalidCommand> => {
  const trimmed = expression.trim()
  const expanded = MACROS[trimmed.toLowerCase()] ?? trimmed
  const fields = expanded.split(/\s+/)
  const six = fields.length === 5 ? ["0", ...fields].join(" ") : fields.join(" ")
  const result = validateDetailed(six)
  if (!result.valid || fields.length < 5) {
    const detail = result.errors.length > 0 ? result.errors.map((e) => e.message).join("; ") : "not a cron expression"
    return Either.left(new InvalidCommand({ message: `invalid field "schedule": ${detail} (expected 6 fields: sec min hour day month weekday)` }))
  }
  return Either.right(six)
}

/** A new job, with the seed's defaults for what the request leaves out. */
export const decideCreate = (id: string, request: CreateCronJob): Either.Either<CronDecision, InvalidCommand> =>
  Either.map(normaliseSchedule(request.schedule), (schedule) => ({
    type: CRON_JOB_CREATED,
    data: {
      id,
      name: request.name.trim(),
      schedule,
      goal: request.goal,
      constraints: request.constraints ?? [],
      acceptance_criteria: request.acceptance_criteria ?? [],
      toolchain: request.toolchain ?? "default",
      priority: request.priority ?? "Normal"
    }
  }))

const definitionOf = (job: CronJobDefinition): CronJobDefinition => ({
  name: job.name,
  schedule: job.schedule,
  goal: job.goal,
  constraints: job.constraints,
  acceptance_criteria: job.acceptance_criteria,
  toolchain: job.toolchain,
  priority: job.priority
})

/** An edit: the fields given replace the current ones; nothing to append when nothing changes. */
export const decideUpdate = (job: CronJobState, update: CronJobUpdate): Either.Either<CronDecision | undefined, InvalidCommand> => {
  const schedule = update.schedule === undefined ? Either.right(job.schedule) : normaliseSchedule(update.schedule)
  if (Either.isLeft(schedule)) return Either.left(schedule.left)
  const before = definitionOf(job)
  const after: CronJobDefinition = {
    name: update.name?.trim() ?? job.name,
    schedule: schedule.right,
    goal: update.goal ?? job.goal,
    constraints: update.constraints ?? job.constraints,
    acceptance_criteria: update.acceptance_criteria ?? job.acceptance_criteria,
    toolchain: update.toolchain ?? job.toolchain,
    priority: update.priority ?? job.priority
  }
  const changed = (Object.keys(after) as Array<keyof CronJobDefinition>)
    .filter((k) => JSON.stringify(after[k]) !== JSON.stringify(before[k]))
    .sort()
  if (changed.length === 0) return Either.right(undefined)
  return Either.right({ type: CRON_JOB_UPDATED, data: { id: job.id, ...after, changed } })
}

/** A job is deleted. */
export const decideDelete = (job: CronJobState): CronDecision => ({ type: CRON_JOB_DELETED, data: { id: job.id } })

/** A job fires and will submit `taskId`. */
export const decideTrigger = (job: CronJobState, taskId: string, reason: CronTriggered["reason"]): CronDecision => ({
  type: CRON_TRIGGERED,
  data: { job_id: job.id, task_id: taskId, reason }
})

/** The task of a run could not be submitted. */
export const decideRunFailed = (job: CronJobState, taskId: string, error: string): CronDecision => ({
  type: CRON_RUN_FAILED,
  data: { job_id: job.id, task_id: taskId, error }
})

/**
 * The job after one of its events, or after the end of a task (only the task of its last run
 * counts: it settles `last_success`). Undefined when deleted. Deterministic.
 */
export const evolve = (job: CronJobState | undefined, event: StoredEvent): CronJobState | undefined => {
  switch (event.type) {
    case CRON_JOB_CREATED: {
      const d = decodeData(CronJobCreated, event)
      return {
        id: d.id,
        ...definitionOf(d),
        version: event.version,
        created_at: event.at,
        updated_at: event.at,
        last_run: null,
        last_success: null,
        last_task_id: null
      }
    }
    case CRON_JOB_UPDATED:
      return job === undefined ? undefined : { ...job, ...definitionOf(decodeData(CronJobUpdated, event)), version: event.version, updated_at: event.at }
    case CRON_JOB_DELETED:
      return undefined
    case CRON_TRIGGERED: {
      const d = decodeData(CronTriggered, event)
      return job === undefined ? undefined : { ...job, version: event.version, last_run: event.at, last_success: null, last_task_id: d.task_id }
    }
    case CRON_RUN_FAILED: {
      const d = decodeData(CronRunFailed, event)
      if (job === undefined) return undefined
      return d.task_id === job.last_task_id ? { ...job, version: event.version, last_success: false } : { ...job, version: event.version }
    }
    case TASK_COMPLETED:
    case TASK_FAILED:
    case TASK_CANCELLED: {
      const taskId = decodeData(TaskEnded, event).id
      if (job === undefined || taskId !== job.last_task_id) return job
      return { ...job, last_success: event.type === TASK_COMPLETED }
    }
    default:
      return job
  }
}

/** One run of a job as its events made it: the API's `CronRun` but its stream, which its task names. */
export type CronRunState = Omit<CronRun, "stream">

/**
 * A run after an event: `cron_triggered` starts it (queued), a failed submission ends it
 * (`not_submitted`), and its task's start and end move it on. Undefined until it is triggered.
 * Deterministic.
 */
export const evolveRun = (run: CronRunState | undefined, event: StoredEvent): CronRunState | undefined => {
  if (event.type === CRON_TRIGGERED) {
    const d = decodeData(CronTriggered, event)
    return { task_id: d.task_id, job_id: d.job_id, seq: event.seq, at: event.at, reason: d.reason, status: "queued", outcome: null, ended_at: null }
  }
  if (run === undefined) return undefined
  const ended = (status: CronRunState["status"], outcome: string): CronRunState => ({ ...run, status, outcome, ended_at: event.at })
  switch (event.type) {
    case CRON_RUN_FAILED:
      return ended("not_submitted", decodeData(CronRunFailed, event).error)
    case TASK_STARTED:
      return { ...run, status: "running" }
    case TASK_COMPLETED:
      return ended("completed", decodeData(TaskCompleted, event).summary)
    case TASK_FAILED:
      return ended("failed", decodeData(TaskFailed, event).error)
    case TASK_CANCELLED:
      return ended("cancelled", decodeData(TaskCancelled, event).reason)
    default:
      return run
  }
}
