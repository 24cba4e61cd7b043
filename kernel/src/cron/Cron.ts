/**
 * Cron jobs: a goal submitted to the scheduler on a schedule. Jobs live in the `cron_jobs` view;
 * this process keeps one node-cron timer per job (UTC, no overlapping runs), re-created from the
 * view at start and replaced on edit, removed on delete and at shutdown. Each run appends
 * `cron_triggered` and submits the job's goal as a task. One process fires the jobs: several
 * processes over one log would each fire them (a leader lock is future work).
 */
import type { CreateCronJob, CronJob, CronJobUpdate, CronRun, CronTriggerResult, PageRequest } from "@annal/spec"
import { EventStore, type EventStoreError, IdGenerator, type StoredEvent } from "@annal/store"
import { SqlClient } from "@effect/sql"
import { Context, Effect, Either, Layer, Runtime, Schema } from "effect"
import cron, { type ScheduledTask } from "node-cron"
import { taskStream } from "../scheduler/events.js"
import { Scheduler } from "../scheduler/Scheduler.js"
import { type CommandContext, query } from "../shared/Command.js"
import { answerWith, commandHandler, eventOf } from "../shared/CommandHandler.js"
import { ConcurrentChange, EntityNotFound, InvalidCommand } from "../shared/errors.js"
import { type Paged, pagedWith } from "../shared/Page.js"
import { type CronDecision, type CronJobState, decideCreate, decideDelete, decideRunFailed, decideTrigger, decideUpdate } from "./decide.js"
import { CRON_JOB_CREATED, CRON_JOB_DELETED, CRON_JOB_UPDATED, CRON_RUN_FAILED, CRON_TRIGGERED, cronStream } from "./events.js"
import { CronJobRow, CronRunRow } from "./projection.js"

const CronJobId = CronJobRow.pipe(Schema.pick("id"))

/** The actor of scheduled runs. */
export const CRON_ACTOR = "system:cron"

/** Cron expressions are read in UTC, so a schedule means the same on every host. */
export const CRON_TIMEZONE = "UTC"

/** A job as the API shows it; `next_run` comes from its live timer. */
export const toCronJob = (job: CronJobState, nextRun: Date | null): CronJob => ({
  id: job.id,
  name: job.name,
  schedule: job.schedule,
  goal: job.goal,
  constraints: job.constraints,
  toolchain: job.toolchain,
  priority: job.priority,
  last_run: job.last_run,
  last_success: job.last_success,
  acceptance_criteria: job.acceptance_criteria,
  last_task_id: job.last_task_id,
  next_run: nextRun === null ? null : nextRun.toISOString(),
  created_at: job.created_at,
  updated_at: job.updated_at,
  stream: cronStream(job.id)
})

export class Cron extends Context.Tag("@annal/kernel/Cron")<
  Cron,
  {
    readonly list: Effect.Effect<ReadonlyArray<CronJob>, EventStoreError>
    readonly get: (id: string) => Effect.Effect<CronJob, EntityNotFound | EventStoreError>
    /** A job's past runs, newest first, each with where its task stands. */
    readonly runs: (id: string, page: PageRequest) => Effect.Effect<Paged<CronRun>, EntityNotFound | EventStoreError>
    /** Creates a job and starts its timer; returns its id. */
    readonly create: (
      request: CreateCronJob,
      context: CommandContext
    ) => Effect.Effect<string, InvalidCommand | ConcurrentChange | EventStoreError>
    /** Edits a job (its timer is replaced when the schedule changes). */
    readonly update: (
      id: string,
      update: CronJobUpdate,
      context: CommandContext
    ) => Effect.Effect<string, EntityNotFound | InvalidCommand | ConcurrentChange | EventStoreError>
    /** Deletes a job and stops its timer. */
    readonly remove: (id: string, context: CommandContext) => Effect.Effect<string, EntityNotFound | InvalidCommand | ConcurrentChange | EventStoreError>
    /** Runs a job now: submits its goal to the scheduler and says what became of it. */
    readonly trigger: (
      id: string,
      context: CommandContext
    ) => Effect.Effect<CronTriggerResult, EntityNotFound | InvalidCommand | ConcurrentChange | EventStoreError>
  }
>() {
  static readonly layer = Layer.scoped(
    Cron,
    Effect.gen(function*() {
      const ids = yield* IdGenerator
      const sql = yield* SqlClient.SqlClient
      const store = yield* EventStore
      const scheduler = yield* Scheduler
      const runtime = yield* Effect.runtime<never>()
      const provide = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient | EventStore>) =>
        effect.pipe(Effect.provideService(SqlClient.SqlClient, sql), Effect.provideService(EventStore, store))
      const timers = new Map<string, { readonly schedule: string; readonly task: ScheduledTask }>()
      const logger = {
        info: () => {},
        debug: () => {},
        warn: (message: string) => Runtime.runFork(runtime)(Effect.logWarning(`cron: ${message}`)),
        error: (message: string | Error) => Runtime.runFork(runtime)(Effect.logError(`cron: ${String(message)}`))
      }

      const load = (id: string) =>
        provide(query("cron_jobs", CronJobRow, (sql) => sql`SELECT * FROM cron_jobs WHERE id = ${id}`)).pipe(Effect.map(([job]) => job))
      const loadOrFail = (id: string) =>
        Effect.flatMap(load(id), (job) => (job === undefined ? Effect.fail(new EntityNotFound({ what: "cron job", id })) : Effect.succeed(job)))

      const handle = commandHandler(store)
      /** A command on an existing job: its stream, the job from the view, EntityNotFound when there is none. */
      const onJob = <C extends { readonly id: string }>(
        decide: (command: C, job: CronJobState) => Either.Either<ReadonlyArray<CronDecision>, InvalidCommand>
      ) => ({
        stream: (command: C) => cronStream(command.id),
        load: (command: C) => load(command.id),
        decide: (command: C, job: CronJobState | undefined): Either.Either<ReadonlyArray<CronDecision>, InvalidCommand | EntityNotFound> =>
          job === undefined ? Either.left(new EntityNotFound({ what: "cron job", id: command.id })) : decide(command, job)
      })
      const answerEvents = answerWith((events: ReadonlyArray<StoredEvent>) => events)

      const created = handle({
        stream: (command: { readonly id: string; readonly request: CreateCronJob }) => cronStream(command.id),
        load: () => Effect.void,
        decide: (command) => Either.map(decideCreate(command.id, command.request), (event) => [event]),
        emits: [CRON_JOB_CREATED],
        // an idempotent replay answers with the job of the first request
        answer: answerWith((events, command) => String(eventOf(events, CRON_JOB_CREATED)?.data.id ?? command.id))
      })
      const updated = handle({
        ...onJob((command: { readonly id: string; readonly update: CronJobUpdate }, job) =>
          Either.map(decideUpdate(job, command.update), (event) => (event === undefined ? [] : [event]))),
        emits: [CRON_JOB_UPDATED],
        answer: answerEvents
      })
      const deleted = handle({
        ...onJob((_: { readonly id: string }, job) => Either.right([decideDelete(job)])),
        emits: [CRON_JOB_DELETED],
        answer: answerEvents
      })
      const triggered = handle({
        ...onJob((command: { readonly id: string; readonly taskId: string; readonly reason: "schedule" | "manual" }, job) =>
          Either.right([decideTrigger(job, command.taskId, command.reason)])),
        emits: [CRON_TRIGGERED],
        answer: answerEvents
      })
      const runFailed = handle({
        ...onJob((command: { readonly id: string; readonly taskId: string; readonly error: string }, job) =>
          Either.right([decideRunFailed(job, command.taskId, command.error)])),
        emits: [CRON_RUN_FAILED],
        answer: answerEvents
      })

      const unschedule = (id: string) =>
        Effect.promise(async () => {
          const timer = timers.get(id)
          timers.delete(id)
          if (timer !== undefined) await timer.task.destroy()
        })

      // Timers change one job at a time, so a delete racing an edit cannot leave a stray timer.
      const timersLock = yield* Effect.makeSemaphore(1)

      /** Makes the timers match the view for one job. */
      const sync = (id: string): Effect.Effect<void, EventStoreError> =>
        timersLock.withPermits(1)(Effect.gen(function*() {
          const job = yield* load(id)
          const timer = timers.get(id)
          if (job !== undefined && timer?.schedule === job.schedule) return
          yield* unschedule(id)
          if (job === undefined) return
          const task = cron.schedule(
            job.schedule,
            () => Runtime.runPromise(runtime)(scheduled(id)),
            { name: cronStream(id), noOverlap: true, timezone: CRON_TIMEZONE, logger }
          )
          timers.set(id, { schedule: job.schedule, task })
        }))

      /**
       * One run: `cron_triggered`, then the job's goal submitted as a task caused by it. Undefined
       * when the job no longer exists.
       */
      const fire = (id: string, reason: "schedule" | "manual", context: CommandContext) =>
        Effect.gen(function*() {
          const fresh = yield* ids.next
          const events = yield* Effect.catchTag(triggered({ id, taskId: fresh, reason }, context), "EntityNotFound", () => Effect.succeed(undefined))
          if (events === undefined) return undefined
          const event = eventOf(events, CRON_TRIGGERED)!
          const job = yield* loadOrFail(id)
          // an idempotent replay answers with the run, and the task, of the first request
          const taskId = typeof event.data.task_id === "string" ? event.data.task_id : fresh
          if (taskId !== fresh) {
            const first = yield* Effect.option(scheduler.get(taskId))
            if (first._tag === "Some") return { job, taskId, submitted: Either.right(first.value) }
          }
          const key = context.meta?.idempotency_key
          const submitted = yield* scheduler.submit(
            {
              id: taskId,
              description: `cron job "${job.name}": ${job.goal.length > 200 ? `${job.goal.slice(0, 199)}…` : job.goal}`,
              goal: job.goal,
              constraints: job.constraints,
              acceptance_criteria: job.acceptance_criteria,
              toolchain: job.toolchain,
              priority: job.priority,
              source: { kind: "cron", id: job.id }
            },
            {
              actor: context.actor,
              meta: {
                ...context.meta,
                causation_id: event.id,
                ...(key === undefined ? {} : { idempotency_key: `${key}/task` })
              }
            }
          ).pipe(Effect.either)
          if (Either.isLeft(submitted)) {
            const error = submitted.left.message
            yield* runFailed({ id, taskId, error }, { actor: context.actor }).pipe(
              Effect.catchAll((e) => Effect.logError(`could not record the failed run of cron job ${id}`, e))
            )
            return { job, taskId, submitted: Either.left(error) }
          }
          return { job, taskId, submitted: Either.right(submitted.right) }
        })

      const scheduled = (id: string) =>
        fire(id, "schedule", { actor: CRON_ACTOR }).pipe(
          Effect.tap((run) =>
            run !== undefined && Either.isLeft(run.submitted)
              ? Effect.logError(`cron job ${id}: could not submit its task: ${run.submitted.left}`)
              : Effect.void
          ),
          Effect.catchAllCause((cause) => Effect.logError(`cron job ${id} could not run`, cause)),
          Effect.asVoid
        )

      const nextRunOf = (id: string) => timers.get(id)?.task.getNextRun() ?? null

      // Every job in the view gets its timer back; runs missed while stopped are not caught up.
      const jobs = yield* provide(query("cron_jobs", CronJobId, (sql) => sql`SELECT id FROM cron_jobs ORDER BY created_at, id`))
      for (const { id } of jobs) yield* sync(id)
      yield* Effect.addFinalizer(() => Effect.forEach([...timers.keys()], unschedule, { discard: true }))

      return Cron.of({
        list: provide(query("cron_jobs", CronJobRow, (sql) => sql`SELECT * FROM cron_jobs ORDER BY created_at, id`)).pipe(
          Effect.map((jobs) => jobs.map((job) => toCronJob(job, nextRunOf(job.id))))
        ),
        get: (id) => Effect.map(loadOrFail(id), (job) => toCronJob(job, nextRunOf(id))),
        runs: (id, page) =>
          Effect.zipRight(
            loadOrFail(id),
            pagedWith(sql)(
              "cron_runs",
              page,
              (sql) => sql`SELECT count(*) AS n FROM cron_runs WHERE job_id = ${id}`,
              CronRunRow,
              (sql, limit, offset) => sql`SELECT * FROM cron_runs WHERE job_id = ${id} ORDER BY seq DESC LIMIT ${limit} OFFSET ${offset}`,
              (row): CronRun => ({ ...row, stream: taskStream(row.task_id) })
            )
          ),
        create: (request, context) =>
          Effect.gen(function*() {
            const id = yield* created({ id: yield* ids.next, request }, context)
            yield* sync(id)
            return id
          }),
        update: (id, update, context) => Effect.zipRight(updated({ id, update }, context), Effect.as(sync(id), id)),
        remove: (id, context) => Effect.zipRight(deleted({ id }, context), Effect.as(sync(id), id)),
        trigger: (id, context) =>
          Effect.gen(function*() {
            const run = yield* fire(id, "manual", context)
            if (run === undefined) return yield* new EntityNotFound({ what: "cron job", id })
            if (Either.isLeft(run.submitted)) {
              return { job_id: id, success: false, summary: `could not submit the task: ${run.submitted.left}`, task_id: null }
            }
            const task = run.submitted.right
            const runner = yield* scheduler.runner
            const position = yield* scheduler.position(task.id)
            const current = yield* Effect.orElseSucceed(scheduler.get(task.id), () => task)
            const summary = current.status === "Queued"
              ? runner.unavailable !== undefined
                ? `queued (${runner.unavailable})`
                : `queued at position ${position ?? 1} (priority ${current.priority})`
              : current.status === "Running"
              ? "running"
              : current.status === "Completed"
              ? `completed: ${current.summary ?? ""}`
              : `${current.status.toLowerCase()}: ${current.error ?? ""}`
            return {
              job_id: id,
              success: current.status !== "Failed" && current.status !== "Cancelled",
              summary: `submitted as task ${task.id}; ${summary}`,
              task_id: task.id
            }
          })
      })
    })
  )
}
