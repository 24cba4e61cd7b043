/**
 * The scheduler's runner backed by the supervisor: each admitted task is an agent whose goal is
 * the task's. With no model configured, tasks wait in the queue (`unavailable` says how to
 * configure one) rather than fail: nothing is lost, and they run once a model is there.
 */
import type { SqlClient } from "@effect/sql"
import { Effect, Layer, Schema } from "effect"
import { LanguageModel, NOT_CONFIGURED } from "../llm/LanguageModel.js"
import { TaskRow } from "../scheduler/projection.js"
import { SCHEDULER_ACTOR } from "../scheduler/Scheduler.js"
import { TaskRunFailed, TaskRunner } from "../scheduler/TaskRunner.js"
import { type CommandContext, query } from "../shared/Command.js"
import { Supervisor } from "./Supervisor.js"

const TaskStatusRow = Schema.encodedSchema(TaskRow).pipe(Schema.pick("status"))

const taskName = (description: string, id: string) => {
  const name = description.trim().split("\n")[0]!.slice(0, 200)
  return name === "" ? `task ${id}` : name
}

/** The task as the agent's goal: the goal, then its constraints and acceptance criteria. */
const taskGoal = (task: { readonly goal: string; readonly constraints: ReadonlyArray<string>; readonly acceptance_criteria: ReadonlyArray<string> }) =>
  [
    task.goal,
    ...(task.constraints.length === 0 ? [] : ["", "Constraints:", ...task.constraints.map((c) => `- ${c}`)]),
    ...(task.acceptance_criteria.length === 0 ? [] : ["", "Acceptance criteria:", ...task.acceptance_criteria.map((c) => `- ${c}`)])
  ].join("\n")

/** The runner: an agent per admitted task. */
export const agentTaskRunner = Layer.effect(
  TaskRunner,
  Effect.gen(function*() {
    const services = yield* Effect.context<SqlClient.SqlClient>()
    const supervisor = yield* Supervisor
    const model = yield* LanguageModel
    const context: CommandContext = { actor: SCHEDULER_ACTOR }
    // The scheduler interrupts a run when the task is cancelled (recorded first) or when the
    // server stops. Only a cancellation kills the agent; on a stop the agent is left to the
    // next start, which fails it as cut off by the restart, like the task.
    const cancelled = (taskId: string) =>
      query("scheduler_tasks", TaskStatusRow, (sql) => sql`SELECT status FROM scheduler_tasks WHERE id = ${taskId}`).pipe(
        Effect.map((rows) => rows[0]?.status === "Cancelled"),
        Effect.orElseSucceed(() => false),
        Effect.provide(services)
      )
    return TaskRunner.of({
      name: "agent-supervisor",
      unavailable: Effect.succeed(model.info === undefined ? model.problem ?? NOT_CONFIGURED : undefined),
      run: (task) =>
        Effect.gen(function*() {
          const handle = yield* supervisor.start({ name: taskName(task.description, task.id), goal: taskGoal(task), task_id: task.id }, context)
          const result = yield* handle.result.pipe(
            Effect.onInterrupt(() =>
              Effect.flatMap(cancelled(task.id), (yes) => (yes ? Effect.ignore(supervisor.kill(handle.agent_id, context)) : Effect.void))
            )
          )
          return { summary: result.text }
        }).pipe(Effect.mapError((e) => new TaskRunFailed({ message: e.message })))
    })
  })
)
