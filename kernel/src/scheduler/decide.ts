/** Pure decisions and evolution of a scheduler task: which events a command appends, and what a task becomes. */
import type { TaskPriority, TaskSource, TaskStatus } from "@annal/spec"
import type { StoredEvent } from "@annal/store"
import { Either } from "effect"
import { InvalidCommand } from "../shared/errors.js"
import { decodeData } from "../shared/EventData.js"
import {
  TASK_CANCELLED,
  TASK_COMPLETED,
  TASK_FAILED,
  TASK_STARTED,
  TASK_SUBMITTED,
  TaskCancelled,
  TaskCompleted,
  TaskFailed,
  type TaskStarted,
  TaskSubmitted
} from "./events.js"

/** A task as its events made it. */
export interface TaskState {
  readonly id: string
  /** Its stream's version. */
  readonly version: number
  /** The seq of its submission: first come, first served within a priority. */
  readonly seq: number
  readonly description: string
  readonly goal: string
  readonly constraints: ReadonlyArray<string>
  readonly acceptance_criteria: ReadonlyArray<string>
  readonly toolchain: string
  readonly priority: TaskPriority
  readonly source: TaskSource
  readonly status: TaskStatus
  readonly created_at: string
  readonly started_at: string | null
  readonly finished_at: string | null
  readonly error: string | null
  readonly summary: string | null
}

/** Higher runs first. */
export const PRIORITY_RANK: Readonly<Record<TaskPriority, number>> = { Low: 0, Normal: 1, High: 2, Critical: 3 }

/** What a command asks to append. */
export type TaskDecision =
  | { readonly type: typeof TASK_SUBMITTED; readonly data: TaskSubmitted }
  | { readonly type: typeof TASK_STARTED; readonly data: TaskStarted }
  | { readonly type: typeof TASK_COMPLETED; readonly data: TaskCompleted }
  | { readonly type: typeof TASK_FAILED; readonly data: TaskFailed }
  | { readonly type: typeof TASK_CANCELLED; readonly data: TaskCancelled }

/** What the runtime reported for a task it ran. */
export type TaskOutcome =
  | { readonly _tag: "Completed"; readonly summary: string }
  | { readonly _tag: "Failed"; readonly error: string }

const refuse = (message: string) => Either.left(new InvalidCommand({ message }))

/** A new task enters the queue; its id must be new and its goal not empty. */
export const decideSubmit = (existing: TaskState | undefined, task: TaskSubmitted): Either.Either<TaskDecision, InvalidCommand> => {
  if (existing !== undefined) return refuse(`task ${task.id} already exists`)
  if (task.goal.trim() === "") return refuse(`invalid field "goal": must not be empty`)
  if (task.description.trim() === "") return refuse(`invalid field "description": must not be empty`)
  return Either.right({ type: TASK_SUBMITTED, data: task })
}

/** The scheduler admits a queued task. */
export const decideStart = (task: TaskState, runner: string): Either.Either<TaskDecision, InvalidCommand> =>
  task.status === "Queued"
    ? Either.right({ type: TASK_STARTED, data: { id: task.id, runner } })
    : refuse(`task ${task.id} is ${task.status}, not Queued`)

/** A running task ends as the runtime reported. */
export const decideEnd = (task: TaskState, outcome: TaskOutcome): Either.Either<TaskDecision, InvalidCommand> => {
  if (task.status !== "Running") return refuse(`task ${task.id} is ${task.status}, not Running`)
  return Either.right(
    outcome._tag === "Completed"
      ? { type: TASK_COMPLETED, data: { id: task.id, summary: outcome.summary } }
      : { type: TASK_FAILED, data: { id: task.id, error: outcome.error } }
  )
}

/** A queued or running task is cancelled; one that has ended cannot be. */
export const decideCancel = (task: TaskState, reason: string): Either.Either<TaskDecision, InvalidCommand> =>
  task.status === "Queued" || task.status === "Running"
    ? Either.right({ type: TASK_CANCELLED, data: { id: task.id, reason } })
    : refuse(`task ${task.id} is ${task.status}; only a queued or running task can be cancelled`)

/** The task after one of its events (deterministic: only the event's own fields). */
export const evolve = (state: TaskState | undefined, event: StoredEvent): TaskState | undefined => {
  if (event.type === TASK_SUBMITTED) {
    const d = decodeData(TaskSubmitted, event)
    return {
      id: d.id,
      version: event.version,
      seq: event.seq,
      description: d.description,
      goal: d.goal,
      constraints: d.constraints,
      acceptance_criteria: d.acceptance_criteria,
      toolchain: d.toolchain,
      priority: d.priority,
      source: d.source,
      status: "Queued",
      created_at: event.at,
      started_at: null,
      finished_at: null,
      error: null,
      summary: null
    }
  }
  if (state === undefined) return undefined
  const base = { ...state, version: event.version }
  switch (event.type) {
    case TASK_STARTED:
      return { ...base, status: "Running", started_at: event.at }
    case TASK_COMPLETED:
      return { ...base, status: "Completed", finished_at: event.at, summary: decodeData(TaskCompleted, event).summary }
    case TASK_FAILED:
      return { ...base, status: "Failed", finished_at: event.at, error: decodeData(TaskFailed, event).error }
    case TASK_CANCELLED:
      return { ...base, status: "Cancelled", finished_at: event.at, error: `cancelled: ${decodeData(TaskCancelled, event).reason}` }
    default:
      return state
  }
}
