import type { TaskPriority, TaskStatus } from "@annal/spec"
import type { StoredEvent, ViewDb } from "@annal/store"
import * as Projection from "../projection/Projection.js"
import { evolve, PRIORITY_RANK, type TaskState } from "./decide.js"
import { decodeData } from "../shared/EventData.js"
import { TASK_EVENTS, TaskEnded } from "./events.js"

/** A row of `scheduler_tasks`. */
export interface TaskRow {
  readonly id: string
  readonly version: number
  readonly seq: number
  readonly description: string
  readonly goal: string
  readonly constraints: string
  readonly acceptance_criteria: string
  readonly toolchain: string
  readonly priority: string
  readonly rank: number
  readonly source_kind: string
  readonly source_id: string | null
  readonly status: string
  readonly created_at: string
  readonly started_at: string | null
  readonly finished_at: string | null
  readonly error: string | null
  readonly summary: string | null
}

/** The task a row holds. */
export const fromRow = (r: TaskRow): TaskState => ({
  id: r.id,
  version: r.version,
  seq: r.seq,
  description: r.description,
  goal: r.goal,
  constraints: JSON.parse(r.constraints) as Array<string>,
  acceptance_criteria: JSON.parse(r.acceptance_criteria) as Array<string>,
  toolchain: r.toolchain,
  priority: r.priority as TaskPriority,
  source: { kind: r.source_kind as TaskState["source"]["kind"], id: r.source_id },
  status: r.status as TaskStatus,
  created_at: r.created_at,
  started_at: r.started_at,
  finished_at: r.finished_at,
  error: r.error,
  summary: r.summary
})

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
  apply: (event: StoredEvent, db) => {
    // every task event names its task by id
    const { id } = decodeData(TaskEnded, event)
    const row = db.get<TaskRow>("SELECT * FROM scheduler_tasks WHERE id = ?", [id])
    const next = evolve(row === undefined ? undefined : fromRow(row), event)
    if (next !== undefined) write(db, next)
  }
})
