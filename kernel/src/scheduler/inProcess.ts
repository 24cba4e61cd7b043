/**
 * Work run in this process (`Scheduler.runTask`): the body a caller hands the scheduler, run
 * instead of the TaskRunner when its task is admitted, and the caller waiting for its result —
 * told when the task is abandoned (cancelled before or while it runs).
 */
import { Cause, Data, Deferred, Effect, Exit, Option } from "effect"
import type { TaskState } from "./decide.js"
import { TaskRunFailed } from "./TaskRunner.js"

/** A task run in this process (`runTask`) was cancelled, or cut off, before its body finished. */
export class TaskAbandoned extends Data.TaggedError("TaskAbandoned")<{ readonly id: string; readonly reason: string }> {
  override get message() {
    return `task ${this.id} did not finish: ${this.reason}`
  }
}

/** What the scheduler holds of work run in this process, by task id. */
export interface TaskBody {
  /** Runs the body on the admitted task, as a TaskRunner would. */
  readonly run: (task: TaskState) => Effect.Effect<{ readonly summary: string }, TaskRunFailed>
  /** Tells the waiting caller the task will not finish. */
  readonly abandon: (reason: string) => Effect.Effect<void>
}

const failureMessage = (cause: Cause.Cause<unknown>) =>
  Option.match(Cause.failureOption(cause), { onNone: () => Cause.pretty(cause), onSome: (e) => String((e as { message?: unknown })?.message ?? e) })

/** Task `id`'s body, and its result for the caller to wait on; `summary` says what `task_completed` records. */
export const taskBody = <A, E>(id: string, body: (task: TaskState) => Effect.Effect<A, E>, summary: (a: A) => string) =>
  Effect.gen(function*() {
    const done = yield* Deferred.make<A, E | TaskAbandoned>()
    const abandon = (reason: string) => Effect.asVoid(Deferred.fail(done, new TaskAbandoned({ id, reason })))
    const held: TaskBody = {
      run: (admitted) =>
        Effect.exit(body(admitted)).pipe(
          Effect.flatMap((exit) =>
            Effect.zipRight(
              Deferred.done(done, exit),
              Exit.match(exit, {
                onSuccess: (a) => Effect.succeed({ summary: summary(a) }),
                onFailure: (cause) => Effect.fail(new TaskRunFailed({ message: failureMessage(cause) }))
              })
            )
          ),
          Effect.onInterrupt(() => abandon("interrupted while running"))
        ),
      abandon
    }
    return { body: held, result: Deferred.await(done) }
  })
