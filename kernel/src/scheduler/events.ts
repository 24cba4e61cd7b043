/** The scheduler's events: a task's life from submission to its end, on the stream `task-<id>`. */
import { TaskPriority, TaskSource } from "@annal/spec"
import { Schema } from "effect"

export const TASK_SUBMITTED = "task_submitted"
export const TASK_STARTED = "task_started"
export const TASK_COMPLETED = "task_completed"
export const TASK_FAILED = "task_failed"
export const TASK_CANCELLED = "task_cancelled"

/** Every event type of a task. */
export const TASK_EVENTS = [TASK_SUBMITTED, TASK_STARTED, TASK_COMPLETED, TASK_FAILED, TASK_CANCELLED] as const

/** The terminal events: the task is over. */
export const TASK_ENDINGS = [TASK_COMPLETED, TASK_FAILED, TASK_CANCELLED] as const

/** A task entered the queue, with everything the runtime needs to run it. */
export const TaskSubmitted = Schema.Struct({
  id: Schema.String,
  description: Schema.String,
  goal: Schema.String,
  constraints: Schema.Array(Schema.String),
  acceptance_criteria: Schema.Array(Schema.String),
  toolchain: Schema.String,
  priority: TaskPriority,
  source: TaskSource
})
export type TaskSubmitted = typeof TaskSubmitted.Type

/** The scheduler admitted the task and handed it to the runtime. */
export const TaskStarted = Schema.Struct({ id: Schema.String, runner: Schema.String })
export type TaskStarted = typeof TaskStarted.Type

/** The runtime finished the task; `summary` is its report. */
export const TaskCompleted = Schema.Struct({ id: Schema.String, summary: Schema.String })
export type TaskCompleted = typeof TaskCompleted.Type

/** The task ended without success; `error` says why. */
export const TaskFailed = Schema.Struct({ id: Schema.String, error: Schema.String })
export type TaskFailed = typeof TaskFailed.Type

/** Someone cancelled the task before it ended. */
export const TaskCancelled = Schema.Struct({ id: Schema.String, reason: Schema.String })
export type TaskCancelled = typeof TaskCancelled.Type

/** The stream a task's events are appended to. */
/** What every ending of a task (completed, failed, cancelled) carries: the task's id. */
export const TaskEnded = Schema.Struct({ id: Schema.String })
export type TaskEnded = typeof TaskEnded.Type

export const taskStream = (id: string) => `task-${id}`
