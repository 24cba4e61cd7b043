import type { TaskPriority } from "@annal/spec"
import type { StoredEvent, ViewDb } from "@annal/store"
import * as Projection from "../projection/Projection.js"
import { TASK_ENDINGS, TaskEnded } from "../scheduler/events.js"
import { decodeData } from "../shared/EventData.js"
import { type CronJobState, evolve } from "./decide.js"
import {
  CRON_JOB_CREATED,
  CRON_JOB_DELETED,
  CRON_JOB_UPDATED,
  CRON_RUN_FAILED,
  CRON_TRIGGERED,
  CronJobDeleted,
  CronRunFailed,
  CronTriggered
} from "./events.js"

/** A row of `cron_jobs`. */
export interface CronJobRow {
  readonly id: string
  readonly version: number
  readonly name: string
  readonly schedule: string
  readonly goal: string
  readonly constraints: string
  readonly acceptance_criteria: string
  readonly toolchain: string
  readonly priority: string
  readonly created_at: string
  readonly updated_at: string
  readonly last_run: string | null
  readonly last_success: number | null
  readonly last_task_id: string | null
}

/** The job a row holds. */
export const fromRow = (r: CronJobRow): CronJobState => ({
  id: r.id,
  version: r.version,
  name: r.name,
  schedule: r.schedule,
  goal: r.goal,
  constraints: JSON.parse(r.constraints) as Array<string>,
  acceptance_criteria: JSON.parse(r.acceptance_criteria) as Array<string>,
  toolchain: r.toolchain,
  priority: r.priority as TaskPriority,
  created_at: r.created_at,
  updated_at: r.updated_at,
  last_run: r.last_run,
  last_success: r.last_success === null ? null : r.last_success === 1,
  last_task_id: r.last_task_id
})

const COLUMNS = [
  "id",
  "version",
  "name",
  "schedule",
  "goal",
  "constraints",
  "acceptance_criteria",
  "toolchain",
  "priority",
  "created_at",
  "updated_at",
  "last_run",
  "last_success",
  "last_task_id"
] as const

const UPSERT = Projection.upsertSql("cron_jobs", COLUMNS)

const write = (db: ViewDb, j: CronJobState) =>
  db.run(UPSERT, [
    j.id,
    j.version,
    j.name,
    j.schedule,
    j.goal,
    JSON.stringify(j.constraints),
    JSON.stringify(j.acceptance_criteria),
    j.toolchain,
    j.priority,
    j.created_at,
    j.updated_at,
    j.last_run,
    j.last_success === null ? null : j.last_success ? 1 : 0,
    j.last_task_id
  ])

const JOB_EVENTS: ReadonlyArray<string> = [CRON_JOB_CREATED, CRON_JOB_UPDATED, CRON_JOB_DELETED, CRON_TRIGGERED, CRON_RUN_FAILED]

/** The job a job event is about: a run names it `job_id`, the job's own events `id`. */
const jobIdOf = (event: StoredEvent): string => {
  switch (event.type) {
    case CRON_TRIGGERED:
      return decodeData(CronTriggered, event).job_id
    case CRON_RUN_FAILED:
      return decodeData(CronRunFailed, event).job_id
    default:
      // created, updated and deleted all carry the job's id
      return decodeData(CronJobDeleted, event).id
  }
}

/** The cron jobs that exist, with their last run; the end of a run's task settles `last_success`. */
export const cronProjection = Projection.make({
  name: "cron",
  version: 1,
  tables: [
    {
      name: "cron_jobs",
      ddl: `CREATE TABLE cron_jobs (
        id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        name TEXT NOT NULL,
        schedule TEXT NOT NULL,
        goal TEXT NOT NULL,
        constraints TEXT NOT NULL,
        acceptance_criteria TEXT NOT NULL,
        toolchain TEXT NOT NULL,
        priority TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        last_run TEXT,
        last_success INTEGER,
        last_task_id TEXT
      );
      CREATE INDEX cron_jobs_last_task ON cron_jobs (last_task_id);`
    }
  ],
  handles: [...JOB_EVENTS, ...TASK_ENDINGS],
  apply: (event: StoredEvent, db) => {
    const ofJob = JOB_EVENTS.includes(event.type)
    const key = ofJob ? jobIdOf(event) : decodeData(TaskEnded, event).id
    // a task's end concerns the job whose last run submitted it, if any
    const row = ofJob
      ? db.get<CronJobRow>("SELECT * FROM cron_jobs WHERE id = ?", [key])
      : db.get<CronJobRow>("SELECT * FROM cron_jobs WHERE last_task_id = ?", [key])
    if (row === undefined && event.type !== CRON_JOB_CREATED) return
    const job = row === undefined ? undefined : fromRow(row)
    const next = evolve(job, event)
    if (next !== undefined) write(db, next)
    else if (job !== undefined) db.run("DELETE FROM cron_jobs WHERE id = ?", [job.id])
  }
})
