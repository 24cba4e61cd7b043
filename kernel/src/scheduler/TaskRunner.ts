/**
 * The port through which the scheduler runs the tasks it admits. The agent runtime provides the
 * real one; until then `TaskRunner.none` runs nothing and every task waits in the queue, visible.
 */
import { Context, Data, Effect, Layer } from "effect"
import type { TaskState } from "./decide.js"

/** The runtime could not finish a task; the message becomes the task's `error`. */
export class TaskRunFailed extends Data.TaggedError("TaskRunFailed")<{ readonly message: string }> {}

export class TaskRunner extends Context.Tag("@annal/kernel/TaskRunner")<
  TaskRunner,
  {
    /** Recorded in `task_started` as who ran the task. */
    readonly name: string
    /**
     * Why tasks cannot run now, or undefined when they can. Checked whenever the scheduler looks at
     * its queue (after a submission, a task's end, a configuration change).
     */
    readonly unavailable: Effect.Effect<string | undefined>
    /** Runs one admitted task to its end: its summary, or why it failed. Interrupted when cancelled. */
    readonly run: (task: TaskState) => Effect.Effect<{ readonly summary: string }, TaskRunFailed>
  }
>() {
  /** No runtime: tasks stay queued. */
  static readonly none = Layer.succeed(
    TaskRunner,
    TaskRunner.of({
      name: "none",
      unavailable: Effect.succeed("no agent runtime configured"),
      run: () => Effect.fail(new TaskRunFailed({ message: "no agent runtime configured" }))
    })
  )
}
