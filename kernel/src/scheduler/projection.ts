import { TaskPriority, TaskSource, TaskStatus } from "@annal/spec"
import type { StoredEvent, ViewDb } from "@annal/store"
import * as Projection from "../projection/Projection.js"
import { evolve, PRIORITY_RANK, type TaskState } from "./decide.js"
import { decodeData } from "../shared/EventData.js"
import { decodeRowSync, JsonStrings } from "../shared/ViewRow.js"
import { Effect, Schema } from "effect"
import { TASK_EVENTS, TaskEnded } from "./events.js"

/** A row of `scheduler_tasks`, read into the task it holds (the lists are JSON, the source two columns). */
export const TaskRow = Schema.transform(
  Schema.Struct({
    id: Schema.String,
    version: Schema.Number,
    seq: Schema.Number,
    description: Schema.String,
    goal: Schema.String,
    constraints: JsonStrings,
    acceptance_criteria: JsonStrings,
    toolchain: Schema.String,
    priority: TaskPriority,
    rank: Schema.Number,
    source_kind: TaskSource.fields.kind,
    source_id: Schema.NullOr(Schema.String),
    status: TaskStatus,
    created_at: Schema.String,
    started_at: Schema.NullOr(Schema.String),
    finished_at: Schema.NullOr(Schema.String),
    error: Schema.NullOr(Schema.String),
    summary: Schema.NullOr(Schema.String)
  }),
  Schema.typeSchema(Schema.Struct({
    id: Schema.String,
    version: Schema.Number,
    seq: Schema.Number,
    description: Schema.String,
    goal: Schema.String,
    constraints: Schema.Array(Schema.String),
    acceptance_criteria: Schema.Array(Schema.String),
    toolchain: Schema.String,
    priority: TaskPriority,
    rank: Schema.Number,
    source: TaskSource,
    status: TaskStatus,
    created_at: Schema.String,
    started_at: Schema.NullOr(Schema.String),
    finished_at: Schema.NullOr(Schema.String),
    error: Schema.NullOr(Schema.String),
    summary: Schema.NullOr(Schema.String)
  })),
  {
    strict: true,
    decode: ({ source_kind, source_id, ...rest }) => ({ ...rest, source: { kind: source_kind, id: source_id } }),
    encode: ({ source, ...rest }) => ({ ...rest, source_kind: source.kind, source_id: source.id })
  }
)
export type TaskRow = typeof TaskRow.Encoded

const decodeTask = decodeRowSync(TaskRow, "scheduler_tasks")

/** The task a decoded row holds (its rank only orders the queue). */
export const taskOf = ({ rank: _rank, ...task }: typeof TaskRow.Type): TaskState => task

/** The task a row holds. */
export const fromRow = (row: TaskRow): TaskState => taskOf(decodeTask(row))

const COLUMNS = [
  "id",
  "version",
  "seq",
  "description",
  "goal",
  "constraints",
  "acceptance_criteria",
  "toolchain",
  "priority",
  "rank",
  "source_kind",
  "source_id",
  "status",
  "created_at",
  "started_at",
  "finished_at",
  "error",
  "summary"
] as const

const UPSERT = Projection.upsertSql("scheduler_tasks", COLUMNS)

const write = (db: ViewDb, t: TaskState) =>
  db.run(UPSERT, [
    t.id,
    t.version,
    t.seq,
    t.description,
    t.goal,
    JSON.stringify(t.constraints),
    JSON.stringify(t.acceptance_criteria),
    t.toolchain,
    t.priority,
    PRIORITY_RANK[t.priority],
    t.source.kind,
    t.source.id,
    t.status,
    t.created_at,
    t.started_at,
    t.finished_at,
    t.error,
    t.summary
  ])

/** Every task the scheduler was given, with its current status: the queue is the `Queued` rows. */
export const schedulerProjection = Projection.make({
  name: "scheduler",
  version: 1,
  tables: [
    {
      name: "scheduler_tasks",
      ddl: `CREATE TABLE scheduler_tasks (
        id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        description TEXT NOT NULL,
        goal TEXT NOT NULL,
        constraints TEXT NOT NULL,
        acceptance_criteria TEXT NOT NULL,
        toolchain TEXT NOT NULL,
        priority TEXT NOT NULL,
        rank INTEGER NOT NULL,
        source_kind TEXT NOT NULL,
        source_id TEXT,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        error TEXT,
        summary TEXT
      );
      CREATE INDEX scheduler_tasks_queue ON scheduler_tasks (status, rank DESC, seq);
      CREATE INDEX scheduler_tasks_started ON scheduler_tasks (started_at);`
    }
  ],
  handles: [...TASK_EVENTS],
  apply: (event: StoredEvent, db) =>
    Effect.gen(function*() {
      // every task event names its task by id
      const { id } = decodeData(TaskEnded, event)
      const row = yield* db.get<TaskRow>("SELECT * FROM scheduler_tasks WHERE id = ?", [id])
      const next = evolve(row === undefined ? undefined : fromRow(row), event)
      if (next !== undefined) yield* write(db, next)
  })
})
