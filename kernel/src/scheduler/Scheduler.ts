/**
 * The scheduler: the task queue as a kernel service. Tasks are submitted as `task_submitted`
 * events and wait in the `scheduler_tasks` view; one admission fiber starts them — highest
 * priority first, first come first served within a priority, at most `scheduler.max_concurrent`
 * at once and `scheduler.rate_limit_per_minute` starts per rolling minute — by handing each to
 * the TaskRunner, and records how it ended. Every task starts that way, however free the slots:
 * one path from submitted to started. Queued tasks survive a restart because the queue is
 * the view; a task found running at start was cut off by the stop and is failed explicitly.
 */
import { SqlClient } from "@effect/sql"
import type { SchedulerStats, SchedulerTasks, TaskPriority, TaskSource } from "@annal/spec"
import { EventStore, type EventStoreError, IdGenerator } from "@annal/store"
import { Clock, Context, Deferred, Duration, Effect, Either, FiberMap, Layer, Option, Queue, Stream } from "effect"
import { Configuration } from "../config/Configuration.js"
import { type CommandContext, commandsOf } from "../shared/Command.js"
import { answerWith, commandHandler, eventOf } from "../shared/CommandHandler.js"
import { type ConcurrentChange, EntityNotFound, type InvalidCommand } from "../shared/errors.js"
import { decideCancel, decideEnd, decideStart, decideSubmit, type TaskDecision, type TaskOutcome, type TaskState } from "./decide.js"
import { TASK_SUBMITTED, taskStream } from "./events.js"
import { type TaskAbandoned, type TaskBody, taskBody } from "./inProcess.js"
import { TaskRow, taskOf } from "./projection.js"
import { makeQueueReads } from "./queue.js"
import { StartWindow, WINDOW_MS } from "./startWindow.js"
import { TaskRunner } from "./TaskRunner.js"

export { TaskAbandoned } from "./inProcess.js"
export { DEFAULT_TASKS_LISTED, toTask, toTaskDetail } from "./queue.js"

/** What a caller hands the scheduler; the id is generated unless given. */
export interface TaskSubmission {
  readonly id?: string | undefined
  readonly description: string
  readonly goal: string
  readonly constraints?: ReadonlyArray<string> | undefined
  readonly acceptance_criteria?: ReadonlyArray<string> | undefined
  readonly toolchain?: string | undefined
  readonly priority?: TaskPriority | undefined
  readonly source: TaskSource
}

/** Who runs tasks, and why they wait when nothing can run them now. */
export interface RunnerStatus {
  readonly name: string
  readonly unavailable: string | undefined
}

/** The actor of the scheduler's own transitions (start, end, interruption). */
export const SCHEDULER_ACTOR = "system:scheduler"

export class Scheduler extends Context.Tag("@annal/kernel/Scheduler")<
  Scheduler,
  {
    /** Puts a task in the queue (`task_submitted`) and wakes the admission fiber. */
    readonly submit: (
      task: TaskSubmission,
      context: CommandContext
    ) => Effect.Effect<TaskState, InvalidCommand | ConcurrentChange | EventStoreError>
    /**
     * Submits a task whose work is `body`, run in this process when the scheduler admits it (by
     * the same priority, concurrency and rate rules as every task), and waits for its result.
     * `summary` says what `task_completed` records. Interrupting the caller cancels the task.
     */
    readonly runTask: <A, E>(
      task: TaskSubmission,
      body: (task: TaskState) => Effect.Effect<A, E>,
      summary: (a: A) => string,
      context: CommandContext
    ) => Effect.Effect<A, E | TaskAbandoned | InvalidCommand | ConcurrentChange | EventStoreError>
    /** One task, whatever its status. */
    readonly get: (id: string) => Effect.Effect<TaskState, EntityNotFound | EventStoreError>
    /** Cancels a queued or running task (a running one is interrupted). */
    readonly cancel: (
      id: string,
      reason: string,
      context: CommandContext
    ) => Effect.Effect<TaskState, EntityNotFound | InvalidCommand | ConcurrentChange | EventStoreError>
    readonly stats: Effect.Effect<SchedulerStats, EventStoreError>
    /** Queued tasks in admission order and running tasks by start, at most `limit` of each. */
    readonly tasks: (limit?: number) => Effect.Effect<SchedulerTasks, EventStoreError>
    /** 1-based place of a queued task in admission order; undefined when it is not queued. */
    readonly position: (id: string) => Effect.Effect<number | undefined, EventStoreError>
    readonly runner: Effect.Effect<RunnerStatus>
    /** Start-up: fails the tasks the last stop cut off and cancels orphaned chat tasks, then admission begins; says what it did. */
    readonly recover: Effect.Effect<string, EntityNotFound | ConcurrentChange | EventStoreError>
  }
>() {
  /** The scheduler over the view, running admitted tasks on the TaskRunner in context. */
  static readonly layer = Layer.scoped(
    Scheduler,
    Effect.gen(function*() {
      const ids = yield* IdGenerator
      const store = yield* EventStore
      const config = yield* Configuration
      const runner = yield* TaskRunner
      const reads = yield* makeQueueReads

      // Every read-decide-append of a task goes through one lock: admission, ends and
      // cancellations never race each other inside this process.
      const lock = yield* Effect.makeSemaphore(1)
      const wake = yield* Queue.sliding<void>(1)
      const signal = Effect.asVoid(Queue.offer(wake, undefined))
      const fibers = yield* FiberMap.make<string>()
      // the slots and the rolling minute; starts of the last minute count after a restart too
      const window = new StartWindow(yield* reads.startsSince((yield* Clock.currentTimeMillis) - WINDOW_MS))
      // The work of tasks submitted by `runTask`, by task id: run instead of the TaskRunner, and
      // abandoned (the waiting caller told) when the task is cancelled before it starts.
      const bodies = new Map<string, TaskBody>()

      const commands = commandsOf(store, yield* SqlClient.SqlClient)
      const handle = commandHandler(store)
      const load = (id: string) =>
        Effect.map(
          commands.view("scheduler_tasks", TaskRow, (sql) => sql`SELECT * FROM scheduler_tasks WHERE id = ${id}`),
          ([row]) => row === undefined ? undefined : taskOf(row)
        )

      const get = (id: string) =>
        Effect.flatMap(load(id), (t) => (t === undefined ? Effect.fail(new EntityNotFound({ what: "task", id })) : Effect.succeed(t)))

      /** Decides on the task's current state and appends, under the lock. */
      const transition = (
        id: string,
        decide: (task: TaskState) => Either.Either<TaskDecision, InvalidCommand>,
        context: CommandContext,
        /** Runs under the lock once the transition is committed. */
        committed: () => void = () => {}
      ) =>
        lock.withPermits(1)(
          Effect.gen(function*() {
            const task = yield* get(id)
            const decision = decide(task)
            if (Either.isLeft(decision)) return yield* decision.left
            yield* commands.appendDecided(taskStream(id), task.version, [decision.right], context)
            committed()
            return yield* get(id)
          })
        )

      const system: CommandContext = { actor: SCHEDULER_ACTOR }

      /** Records how a running task ended; a task cancelled meanwhile stays cancelled. */
      const end = (id: string, outcome: TaskOutcome) =>
        transition(id, (t) => decideEnd(t, outcome), system).pipe(
          Effect.catchTag("InvalidCommand", () => Effect.void),
          Effect.catchAll((e) => Effect.logError(`could not record the end of task ${id}`, e))
        )

      const execute = (task: TaskState) =>
        (bodies.get(task.id)?.run ?? runner.run)(task).pipe(
          Effect.map((r): TaskOutcome => ({ _tag: "Completed", summary: r.summary })),
          Effect.catchAll((e) => Effect.succeed<TaskOutcome>({ _tag: "Failed", error: e.message })),
          Effect.catchAllDefect((d) => Effect.succeed<TaskOutcome>({ _tag: "Failed", error: `the runner crashed: ${String(d)}` })),
          Effect.flatMap((outcome) => end(task.id, outcome)),
          Effect.ensuring(Effect.suspend(() => {
            window.ended(task.id)
            bodies.delete(task.id)
            return signal
          }))
        )

      const nextQueued = Effect.map(
        commands.view("scheduler_tasks", TaskRow, (sql) => sql`SELECT * FROM scheduler_tasks WHERE status = 'Queued' ORDER BY rank DESC, seq LIMIT 1`),
        ([row]) => row === undefined ? undefined : taskOf(row)
      )

      /**
       * Starts what the limits allow; says how long to wait before looking again (undefined:
       * until woken by a submission, an end, a cancellation or a configuration change).
       */
      const admit: Effect.Effect<Duration.Duration | undefined, EventStoreError | ConcurrentChange> = Effect.gen(function*() {
        if ((yield* runner.unavailable) !== undefined) return undefined
        while (true) {
          const limits = (yield* config.current).scheduler
          const now = yield* Clock.currentTimeMillis
          const recent = window.startsWithin(now)
          if (window.running >= limits.max_concurrent) return undefined
          const next = yield* nextQueued
          if (next === undefined) return undefined
          if (recent >= limits.rate_limit_per_minute) return Duration.millis(window.waitAfter(now))
          // counted as running in the same locked step as its start
          const started = yield* transition(next.id, (t) => decideStart(t, runner.name), system, () => window.started(next.id, now)).pipe(
            Effect.map(Option.some),
            Effect.catchTags({ InvalidCommand: () => Effect.succeedNone, EntityNotFound: () => Effect.succeedNone })
          )
          if (Option.isNone(started)) continue
          yield* FiberMap.run(fibers, next.id, execute(started.value))
        }
      })

      // Start-up: a task recorded as running was cut off by the last stop; a queued task whose work
      // lived in the last process (`runTask`: chat runs and their agent groups) has nothing left to
      // run it — its chat run is resumed or failed by the orchestrator's step. Admission waits for this.
      const recovered = yield* Deferred.make<void>()
      const recover = Effect.gen(function*() {
        const interrupted = yield* reads.idsIn("Running", "the running tasks")
        for (const { id } of interrupted) {
          yield* end(id, { _tag: "Failed", error: "interrupted: the server stopped while the task was running" })
        }
        const orphans = yield* reads.idsIn("Queued", "the orphaned tasks", "session")
        for (const { id } of orphans) {
          yield* transition(id, (t) => decideCancel(t, "the server stopped before the task started; its chat run is resumed or failed on start"), system).pipe(
            Effect.catchTag("InvalidCommand", () => Effect.void)
          )
        }
        yield* Deferred.succeed(recovered, undefined)
        return interrupted.length + orphans.length === 0
          ? "no task was cut off"
          : `${interrupted.length} running task(s) failed as interrupted, ${orphans.length} queued chat task(s) cancelled`
      })
      yield* Effect.forkScoped(Stream.runForEach(config.changes, () => signal))
      yield* Effect.forkScoped(Effect.zipRight(Deferred.await(recovered), Effect.forever(
        Effect.gen(function*() {
          const wait = yield* admit.pipe(
            Effect.catchAllCause((cause) => Effect.as(Effect.logError("the scheduler could not admit tasks", cause), Duration.seconds(5)))
          )
          yield* wait === undefined ? Queue.take(wake) : Effect.asVoid(Effect.timeoutOption(Queue.take(wake), wait))
        })
      )))
      yield* signal

      const submitted = handle({
        stream: (command: TaskSubmission & { readonly id: string }) => taskStream(command.id),
        load: (command) => load(command.id),
        decide: (command, current) =>
          Either.map(
            decideSubmit(current, {
              id: command.id,
              description: command.description,
              goal: command.goal,
              constraints: command.constraints ?? [],
              acceptance_criteria: command.acceptance_criteria ?? [],
              toolchain: command.toolchain ?? "default",
              priority: command.priority ?? "Normal",
              source: command.source
            }),
            (event) => [event]
          ),
        emits: [TASK_SUBMITTED],
        // an idempotent replay answers with the task of the first request
        answer: answerWith((events, command) => String(eventOf(events, TASK_SUBMITTED)?.data.id ?? command.id))
      })

      // submitted, then started by the dispatcher like any queued task: one way for a task to start
      const submit = (task: TaskSubmission, context: CommandContext) =>
        Effect.gen(function*() {
          const id = yield* submitted({ ...task, id: task.id ?? (yield* ids.next) }, context)
          yield* signal
          return yield* Effect.catchTag(get(id), "EntityNotFound", (e) => Effect.die(e))
        })

      const cancel = (id: string, reason: string, context: CommandContext) =>
        Effect.gen(function*() {
          const task = yield* transition(id, (t) => decideCancel(t, reason), context)
          // the cancellation is on record first; the run, if any, is then stopped
          yield* FiberMap.remove(fibers, id)
          const body = bodies.get(id)
          if (body !== undefined) {
            bodies.delete(id)
            yield* body.abandon(`cancelled: ${reason}`)
          }
          yield* signal
          return task
        })

      const runTask = <A, E>(
        task: TaskSubmission,
        body: (task: TaskState) => Effect.Effect<A, E>,
        summary: (a: A) => string,
        context: CommandContext
      ) =>
        Effect.gen(function*() {
          const id = task.id ?? (yield* ids.next)
          const held = yield* taskBody(id, body, summary)
          bodies.set(id, held.body)
          // from the submission on, a caller that gives up (its run was stopped) takes the task with it
          return yield* Effect.uninterruptibleMask((restore) =>
            Effect.zipRight(
              submit({ ...task, id }, context).pipe(Effect.onError(() => Effect.sync(() => bodies.delete(id)))),
              restore(held.result).pipe(
                Effect.onInterrupt(() => Effect.ignore(cancel(id, "the run waiting for it stopped (stopped on purpose, or the server is stopping)", context)))
              )
            )
          )
        })

      return Scheduler.of({
        recover,
        submit,
        runTask,
        get,
        cancel,
        stats: Effect.gen(function*() {
          const limits = (yield* config.current).scheduler
          const queued = yield* reads.count("Queued")
          const running = yield* reads.count("Running")
          const recent = window.startsWithin(yield* Clock.currentTimeMillis)
          return {
            queued,
            running,
            max_concurrent: limits.max_concurrent,
            rate_limit_per_minute: limits.rate_limit_per_minute,
            rate_remaining: Math.max(0, limits.rate_limit_per_minute - recent)
          }
        }),
        tasks: reads.tasks,
        position: (id) => Effect.flatMap(load(id), (t) => (t === undefined || t.status !== "Queued" ? Effect.succeed(undefined) : reads.placeOf(t))),
        runner: Effect.map(runner.unavailable, (unavailable) => ({ name: runner.name, unavailable }))
      })
    })
  )
}
