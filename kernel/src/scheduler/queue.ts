/**
 * The queue as readers see it: a task as the API lists it, the counts, the lists in admission
 * order and a queued task's place — reads of the `scheduler_tasks` view, no decisions.
 */
import type { SchedulerTask, SchedulerTaskDetail, SchedulerTasks } from "@annal/spec"
import { EventStore, type EventStoreError } from "@annal/store"
import { SqlClient } from "@effect/sql"
import { Effect, Schema } from "effect"
import { counted, query } from "../shared/Command.js"
import { PRIORITY_RANK, type TaskState } from "./decide.js"
import { taskStream } from "./events.js"
import { TaskRow, taskOf } from "./projection.js"

const TaskId = Schema.encodedSchema(TaskRow).pipe(Schema.pick("id"))
const TaskStart = Schema.Struct({ started_at: Schema.String })

/** Most tasks a list returns of each kind when the caller names no limit. */
export const DEFAULT_TASKS_LISTED = 1000

/** A task as `GET /api/scheduler/tasks` lists it. */
export const toTask = (t: TaskState): SchedulerTask => ({
  id: t.id,
  description: t.description,
  priority: t.priority,
  status: t.status,
  created_at: t.created_at,
  error: t.error,
  source: t.source,
  started_at: t.started_at,
  finished_at: t.finished_at,
  stream: taskStream(t.id)
})

/** A task with everything it carries. */
export const toTaskDetail = (t: TaskState): SchedulerTaskDetail => ({
  ...toTask(t),
  goal: t.goal,
  constraints: t.constraints,
  acceptance_criteria: t.acceptance_criteria,
  toolchain: t.toolchain,
  summary: t.summary
})

/** The reads over the kernel's SQL client (the views live with the store). */
export const makeQueueReads = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const store = yield* EventStore
  const provide = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient | EventStore>) =>
    effect.pipe(Effect.provideService(SqlClient.SqlClient, sql), Effect.provideService(EventStore, store))

  /** The ids of the tasks in `status` (those of `source_kind` only, when given), oldest first. */
  const idsIn = (status: "Queued" | "Running", what: string, sourceKind?: string) =>
    provide(query(what, TaskId, (sql) =>
      sourceKind === undefined
        ? sql`SELECT id FROM scheduler_tasks WHERE status = ${status} ORDER BY seq`
        : sql`SELECT id FROM scheduler_tasks WHERE status = ${status} AND source_kind = ${sourceKind} ORDER BY seq`))

  /** How many tasks are in `status`. */
  const count = (status: "Queued" | "Running") =>
    provide(counted("scheduler_tasks", (sql) => sql`SELECT count(*) AS n FROM scheduler_tasks WHERE status = ${status}`))

  /** Queued tasks in admission order and running tasks by start, at most `limit` of each. */
  const tasks = (limit = DEFAULT_TASKS_LISTED): Effect.Effect<SchedulerTasks, EventStoreError> =>
    provide(Effect.all([
      query("scheduler_tasks", TaskRow, (sql) => sql`SELECT * FROM scheduler_tasks WHERE status = 'Queued' ORDER BY rank DESC, seq LIMIT ${limit}`),
      query("scheduler_tasks", TaskRow, (sql) => sql`SELECT * FROM scheduler_tasks WHERE status = 'Running' ORDER BY started_at, seq LIMIT ${limit}`)
    ])).pipe(
      Effect.map(([queued, running]) => ({
        queued: queued.map((r) => toTask(taskOf(r))),
        running: running.map((r) => toTask(taskOf(r)))
      }))
    )

  /** 1-based place of queued task `t` in admission order. */
  const placeOf = (t: TaskState) =>
    provide(counted("scheduler_tasks", (sql) => sql`
      SELECT count(*) AS n FROM scheduler_tasks WHERE status = 'Queued'
      AND (rank > ${PRIORITY_RANK[t.priority]} OR (rank = ${PRIORITY_RANK[t.priority]} AND seq < ${t.seq}))`)).pipe(
      Effect.map((n) => n + 1)
    )

  /** When tasks started since `sinceMs` (Clock millis), oldest first. */
  const startsSince = (sinceMs: number) =>
    provide(query("scheduler_tasks", TaskStart, (sql) => sql`
      SELECT started_at FROM scheduler_tasks WHERE started_at >= ${new Date(sinceMs).toISOString()} ORDER BY started_at`)).pipe(
      Effect.map((rows) => rows.map((r) => Date.parse(r.started_at)))
    )

  return { idsIn, count, tasks, placeOf, startsSince }
})
