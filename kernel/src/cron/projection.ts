import { CronRun, TaskPriority } from "@annal/spec"
import type { StoredEvent, ViewDb } from "@annal/store"
import * as Projection from "../projection/Projection.js"
import { TASK_ENDINGS, TASK_STARTED, TaskEnded } from "../scheduler/events.js"
import { decodeData } from "../shared/EventData.js"
import { decodeRowSync, Flag, JsonStrings } from "../shared/ViewRow.js"
import { Effect, Schema } from "effect"
import { type CronJobState, type CronRunState, evolve, evolveRun } from "./decide.js"
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

/** A row of `cron_jobs`, read into the job it holds: the lists are JSON, `last_success` 0 or 1. */
export const CronJobRow = Schema.Struct({
  id: Schema.String,
  version: Schema.Number,
  name: Schema.String,
  schedule: Schema.String,
  goal: Schema.String,
  constraints: JsonStrings,
  acceptance_criteria: JsonStrings,
  toolchain: Schema.String,
  priority: TaskPriority,
  created_at: Schema.String,
  updated_at: Schema.String,
  last_run: Schema.NullOr(Schema.String),
  last_success: Schema.NullOr(Flag),
  last_task_id: Schema.NullOr(Schema.String)
})
export type CronJobRow = typeof CronJobRow.Encoded

/** The job a row holds. */
export const fromRow: (row: CronJobRow) => CronJobState = decodeRowSync(CronJobRow, "cron_jobs")

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

/** A row of `cron_runs`: one firing of a job and what became of its task — the API's run but for its stream. */
export const CronRunRow = CronRun.pipe(Schema.omit("stream"))
export type CronRunRow = typeof CronRunRow.Encoded

/** The run a row holds. */
const runFromRow: (row: CronRunRow) => CronRunState = decodeRowSync(CronRunRow, "cron_runs")

const RUN_COLUMNS = ["task_id", "job_id", "seq", "at", "reason", "status", "outcome", "ended_at"] as const

const UPSERT_RUN = Projection.upsertSql("cron_runs", RUN_COLUMNS, "task_id")

const writeRun = (db: ViewDb, r: CronRunState) => db.run(UPSERT_RUN, RUN_COLUMNS.map((c) => r[c]))

/** Keeps `cron_runs` in step: a run starts with `cron_triggered`, its task's events move it on, deleting the job removes its runs. */
const applyToRuns = (event: StoredEvent, db: ViewDb) =>
  Effect.gen(function*() {
    if (event.type === CRON_JOB_DELETED) {
      yield* db.run("DELETE FROM cron_runs WHERE job_id = ?", [decodeData(CronJobDeleted, event).id])
      return
    }
    if (event.type === CRON_TRIGGERED) {
      // a run of a job the view does not hold (deleted) is not kept, like the job
      if ((yield* db.get("SELECT 1 FROM cron_jobs WHERE id = ?", [decodeData(CronTriggered, event).job_id])) === undefined) return
      yield* writeRun(db, evolveRun(undefined, event)!)
      return
    }
    const taskId = event.type === CRON_RUN_FAILED ? decodeData(CronRunFailed, event).task_id : decodeData(TaskEnded, event).id
    const row = yield* db.get<CronRunRow>("SELECT * FROM cron_runs WHERE task_id = ?", [taskId])
    if (row === undefined) return
    yield* writeRun(db, evolveRun(runFromRow(row), event)!)
  })

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

/**
 * The cron jobs that exist, with their last run (the end of a run's task settles
 * `last_success`), and each job's runs with where their tasks stand.
 */
export const cronProjection = Projection.make({
  name: "cron",
  version: 2,
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
    },
    {
      name: "cron_runs",
      ddl: `CREATE TABLE cron_runs (
        task_id TEXT PRIMARY KEY,
        job_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        at TEXT NOT NULL,
        reason TEXT NOT NULL,
        status TEXT NOT NULL,
        outcome TEXT,
        ended_at TEXT
      );
      CREATE INDEX cron_runs_job ON cron_runs (job_id, seq);`
    }
  ],
  handles: [...JOB_EVENTS, TASK_STARTED, ...TASK_ENDINGS],
  apply: (event: StoredEvent, db) =>
    Effect.gen(function*() {
      if (event.type !== CRON_JOB_CREATED && event.type !== CRON_JOB_UPDATED) yield* applyToRuns(event, db)
      if (event.type === TASK_STARTED) return
      const ofJob = JOB_EVENTS.includes(event.type)
      const key = ofJob ? jobIdOf(event) : decodeData(TaskEnded, event).id
      // a task's end concerns the job whose last run submitted it, if any
      const row = ofJob
        ? yield* db.get<CronJobRow>("SELECT * FROM cron_jobs WHERE id = ?", [key])
        : yield* db.get<CronJobRow>("SELECT * FROM cron_jobs WHERE last_task_id = ?", [key])
      if (row === undefined && event.type !== CRON_JOB_CREATED) return
      const job = row === undefined ? undefined : fromRow(row)
      const next = evolve(job, event)
      if (next !== undefined) yield* write(db, next)
      else if (job !== undefined) yield* db.run("DELETE FROM cron_jobs WHERE id = ?", [job.id])
  })
})
