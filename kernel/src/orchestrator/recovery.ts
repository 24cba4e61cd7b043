/**
 * Crash resume: at start-up, the chat runs the last stop cut off (still `running` in the view)
 * are resumed — from their seed, or from the interview when they had none — once; a run
 * already resumed, one whose session or message is gone, or one with no model to go on with
 * is failed with the reason (`decideResume`).
 */
import { SqlClient } from "@effect/sql"
import { EventStore } from "@annal/store"
import { Effect, Option } from "effect"
import { LanguageModel, NOT_CONFIGURED } from "../llm/LanguageModel.js"
import { Sessions } from "../sessions/Sessions.js"
import { type CommandContext, commandsOf } from "../shared/Command.js"
import { decideResume } from "./decide.js"
import { CHAT_RUN_RESUMED, type ChatRunResumed } from "./events.js"
import { initial, type Working } from "./machine.js"
import { ChatRunRow } from "./projection.js"
import { historyOf } from "./prompts.js"
import { newRun, type RunContext, type RunSteps } from "./runSteps.js"
import { draft } from "../shared/Command.js"

/** The actor of what the orchestrator does on its own (resuming or failing cut-off runs). */
export const ORCHESTRATOR_ACTOR = "system:orchestrator"

/** The start-up step over the kernel's store, model and sessions; `resume` forks a run from a state. */
export const makeRecovery = (steps: RunSteps, resume: (run: RunContext, from: Working) => Effect.Effect<unknown>) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const model = yield* LanguageModel
    const sessions = yield* Sessions
    const commands = commandsOf(store, yield* SqlClient.SqlClient)

    /** Resumes or fails the runs the last stop cut off; says what it did. */
    return Effect.gen(function*() {
      let resumed = 0
      const cutOff = yield* commands.view("chat_runs", ChatRunRow, (sql) => sql`SELECT * FROM chat_runs WHERE status = 'running' ORDER BY seq`)
      for (const row of cutOff) {
        const session = yield* sessions.get(row.session_id).pipe(Effect.option)
        const ctx: CommandContext = {
          actor: row.actor,
          meta: { session_id: row.session_id, ...(row.correlation_id === null ? {} : { correlation_id: row.correlation_id }) }
        }
        const content = Option.flatMap(session, (s) => Option.fromNullable(s.user_messages[row.message_index]))
        const run = newRun({
          runId: row.id,
          sessionId: row.session_id,
          content: Option.getOrElse(content, () => ""),
          history: Option.match(session, { onNone: () => [], onSome: (s) => historyOf(s, row.message_index) }),
          ctx
        }, row.phase)
        const decision = Option.isNone(content)
          ? { _tag: "Fail" as const, error: "interrupted by a restart, and its session or message is gone" }
          : decideResume(row, model.info === undefined ? model.problem ?? NOT_CONFIGURED : undefined)
        // the orchestrator decides this, not whoever sent the message
        const own: RunContext = { ...run, ctx: { ...ctx, actor: ORCHESTRATOR_ACTOR } }
        if (decision._tag === "Fail") {
          yield* steps.fail(own, own.progress.phase, decision.error)
          continue
        }
        yield* steps.record(own, [
          draft<ChatRunResumed>(CHAT_RUN_RESUMED, {
            run_id: row.id,
            session_id: row.session_id,
            phase: decision.phase,
            seed_id: decision.seed_id,
            reason: "interrupted by a restart"
          })
        ])
        yield* resume(run, initial(decision.seed_id))
        resumed++
        yield* Effect.logInfo(`chat run ${row.id} resumed from ${decision.phase} after a restart`)
      }
      return cutOff.length === 0 ? "no chat run was cut off" : `${resumed} chat run(s) resumed, ${cutOff.length - resumed} failed`
    })
  })
