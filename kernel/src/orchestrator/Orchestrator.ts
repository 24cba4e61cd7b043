/**
 * The orchestrator (Ouroboros): a chat message is one run through interview → seed → execute →
 * evaluate → evolve, on the stream `chat-run-<run id>`.
 *
 * - interview: the model decides whether the message asks for work at all — a greeting or a
 *   question it can answer from the conversation is answered in the same call (phase `respond`,
 *   unless `orchestrator.direct_answers` is off) — and scores how clear the goal, constraints and
 *   success criteria are; too ambiguous (1 − mean clarity > `orchestrator.ambiguity_threshold`)
 *   and the questions are the reply, the next message of the session continuing the interview;
 * - seed: the request becomes an immutable seed;
 * - execute: agents do the work, each one a scheduler task (admitted by priority, concurrency and
 *   rate like every task) run by the supervisor; a seed with 3 or more acceptance criteria is
 *   split into an agent group whose members run in parallel, one part of the criteria each;
 * - evaluate: files the criteria name must exist, then the model judges the work;
 * - evolve: while it fails and generations remain, a child seed with a refined goal is executed.
 *
 * The structured phases (interview, seed, evaluate, evolve) ask for JSON of their shape
 * (`answers.ts`); an unreadable answer gets one repair request (`llm/StructuredOutput.ts`) and
 * then the phase's fallback, recorded in its `phase_completed` — a model that answers in prose
 * never fails a chat. Every phase is `phase_started` / `phase_completed`; the run starts with `chat_run_started` and
 * ends with `chat_run_completed` or `chat_run_failed`; the user's message and the reply (or why
 * there is none) are recorded in the session. Tokens the model streams are published live
 * (`tokens`), never logged; each whole answer is (`model_answered`, before the run reads it). A run the last stop cut off is resumed on start — from its seed, or
 * from the interview when it had none — once; after that it is failed with the reason.
 *
 * Runs are fibers of the service's own scope: `chat` waits at most
 * `orchestrator.chat_timeout_secs`, then the run goes on or is stopped (`orchestrator.on_timeout`).
 *
 * The parts: `prompts.ts` (what the model is told), `machine.ts` (the run as a pure state
 * machine, `next(state, outcome)`), `phases.ts` (what each state does), `execution.ts` (agents
 * and groups), `runSteps.ts` (a phase on the record, a completion, the run's end),
 * `recovery.ts` (crash resume), and here the service: starting, joining and stopping runs.
 */
import { SqlClient } from "@effect/sql"
import { type EventMeta, EventStore, IdGenerator } from "@annal/store"
import { Cause, Context, Duration, Effect, Exit, Fiber, FiberSet, Layer, Option, PubSub, Schema, Stream } from "effect"
import { Configuration } from "../config/Configuration.js"
import { LanguageModel, ModelUnavailable, NOT_CONFIGURED } from "../llm/LanguageModel.js"
import { type RecordedMessage, Sessions } from "../sessions/Sessions.js"
import { SessionMessageRow } from "../sessions/projection.js"
import { type CommandContext, commandsOf, draft } from "../shared/Command.js"
import { ConcurrentChange } from "../shared/errors.js"
import * as RunOnce from "../shared/RunOnce.js"
import { type ChatError, type ChatInput, type ChatReply, type ChatRun, ChatRunFailedEarlier, ChatTimedOut, type LiveToken } from "./chat.js"
import { CHAT_RUN_STARTED, type ChatRunStarted } from "./events.js"
import { makeExecution } from "./execution.js"
import { initial, type Working } from "./machine.js"
import { makePhases } from "./phases.js"
import { ChatRunRow } from "./projection.js"

const MessageContent = SessionMessageRow.pipe(Schema.pick("content"))
import { historyOf } from "./prompts.js"
import { makeRecovery } from "./recovery.js"
import { errorMessage, makeRunSteps, newRun, type RunContext } from "./runSteps.js"

export * from "./chat.js"
export { EVALUATE_PROMPT, EVOLVE_PROMPT, INTERVIEW_PROMPT, memberTaskOf, SEED_PROMPT, taskOf, WORK_INTERVIEW_PROMPT } from "./prompts.js"
export { ORCHESTRATOR_ACTOR } from "./recovery.js"

export class Orchestrator extends Context.Tag("@annal/kernel/Orchestrator")<
  Orchestrator,
  {
    /** Records the message and starts its run in the background. */
    readonly start: (input: ChatInput, context: CommandContext) => Effect.Effect<ChatRun, ChatError>
    /** Runs the loop for one message and waits for its reply (no time limit). */
    readonly run: (input: ChatInput, context: CommandContext) => Effect.Effect<ChatReply, ChatError>
    /** Runs the loop and waits at most `orchestrator.chat_timeout_secs` (then `orchestrator.on_timeout` applies). */
    readonly chat: (input: ChatInput, context: CommandContext) => Effect.Effect<ChatReply, ChatError | ChatTimedOut>
    /** Tokens of every run as the model streams them, from the moment of subscribing. */
    readonly tokens: Stream.Stream<LiveToken>
    /** Ids of the runs going on in this process. */
    readonly running: Effect.Effect<ReadonlyArray<string>>
    /** Start-up: resumes or fails the chat runs the last stop cut off; says what it did. */
    readonly recover: Effect.Effect<string, ChatError>
    /**
     * Runs a recorded run again from its start — its `chat_run_started` as recorded, the message
     * already in its session — as `context` (the event's actor and meta) began it: a replay's entry.
     */
    readonly rerun: (started: ChatRunStarted, context: CommandContext) => Effect.Effect<ChatReply, ChatError>
  }
>() {
  static readonly layer = Layer.scoped(
    Orchestrator,
    Effect.gen(function*() {
      const ids = yield* IdGenerator
      const store = yield* EventStore
      const model = yield* LanguageModel
      const sessions = yield* Sessions
      const configuration = yield* Configuration
      const background = yield* FiberSet.make<ChatReply, ChatError>()
      const live = yield* PubSub.unbounded<LiveToken>()
      // the runs going on here: each one's fiber, and why it is being stopped when that is on purpose (a timeout)
      const runs = new Map<string, { readonly fiber: Fiber.RuntimeFiber<ChatReply, ChatError>; stopping?: string }>()
      const stoppedOnPurpose = (runId: string) => runs.get(runId)?.stopping !== undefined
      // keyed requests by message, until their run ends: a retry that comes before the first
      // attempt's run is on the record joins it rather than starting another
      const keyedStarts = RunOnce.make<string, ChatRun, ChatError>()

      const unavailable = () => new ModelUnavailable({ message: model.problem ?? NOT_CONFIGURED })
      const commands = commandsOf(store, yield* SqlClient.SqlClient)
      const steps = yield* makeRunSteps(live)
      const phases = yield* makePhases(steps, yield* makeExecution(live, stoppedOnPurpose))

      /** The run's fiber: from `from` to its reply, then its end on the record — unless the server is stopping under it (the next start resumes it). */
      const fork = (run: RunContext, from: Working) =>
        Effect.gen(function*() {
          const ended = (exit: Exit.Exit<ChatReply, ChatError>) => {
            if (Exit.isSuccess(exit)) return Effect.void
            const stopped = runs.get(run.runId)?.stopping
            if (Cause.isInterruptedOnly(exit.cause) && stopped === undefined) return Effect.void
            const error = stopped ?? Option.match(Cause.failureOption(exit.cause), { onNone: () => Cause.pretty(exit.cause), onSome: errorMessage })
            return steps.fail(run, run.progress.phase, error)
          }
          const fiber = yield* FiberSet.run(
            background,
            phases.drive(run, from).pipe(
              Effect.onExit(ended),
              Effect.ensuring(Effect.sync(() => runs.delete(run.runId)))
            )
          )
          // (a run that already ended has nothing to stop)
          if (fiber.unsafePoll() === null) runs.set(run.runId, { fiber })
          return fiber
        })

      /**
       * The run an earlier request with the same Idempotency-Key started for this message: joined
       * while it runs here, answered from the session once it has ended.
       */
      const earlierRun = (messageId: string) =>
        Effect.gen(function*() {
          const [row] = yield* commands.view("chat_runs", ChatRunRow, (sql) => sql`SELECT * FROM chat_runs WHERE message_id = ${messageId}`)
          if (row === undefined) return undefined
          const fiber = runs.get(row.id)?.fiber
          const answered = Effect.gen(function*() {
            if (row.status === "failed") return yield* new ChatRunFailedEarlier({ run_id: row.id, reason: row.error ?? "unknown" })
            const [reply] = row.reply_id === null ? [] : yield* commands.view("session_messages", MessageContent, (sql) =>
              sql`SELECT content FROM session_messages WHERE message_id = ${row.reply_id} AND role = 'agent'`)
            if (reply === undefined) {
              return yield* new ConcurrentChange({ message: `the run of this Idempotency-Key (${row.id}) has not answered yet; its reply will be in session ${row.session_id}` })
            }
            const [asked] = yield* commands.view("session_messages", MessageContent, (sql) =>
              sql`SELECT content FROM session_messages WHERE message_id = ${messageId} AND role = 'user'`)
            return { id: row.reply_id!, echo: asked?.content ?? "", reply: reply.content, session_id: row.session_id, phase: row.phase ?? "interview" } satisfies ChatReply
          })
          return { run_id: row.id, session_id: row.session_id, reply: fiber === undefined ? answered : Fiber.join(fiber) } satisfies ChatRun
        })

      const startRun = (input: ChatInput, context: CommandContext, recorded: RecordedMessage, meta: EventMeta) =>
        Effect.gen(function*() {
          const session = yield* sessions.get(recorded.session_id)
          const runId = yield* ids.next
          const run = newRun({
            runId,
            sessionId: recorded.session_id,
            content: input.content,
            history: historyOf(session, recorded.index),
            ctx: { actor: context.actor, meta: { ...meta, session_id: recorded.session_id } }
          })
          yield* steps.record(run, [
            draft<ChatRunStarted>(CHAT_RUN_STARTED, {
              run_id: runId,
              session_id: recorded.session_id,
              message_id: recorded.message_id,
              message_index: recorded.index
            })
          ])
          const fiber = yield* fork(run, initial(null))
          return { run_id: runId, session_id: recorded.session_id, reply: Fiber.join(fiber) } satisfies ChatRun
        })

      const start = (input: ChatInput, context: CommandContext) =>
        Effect.gen(function*() {
          if (model.info === undefined) return yield* unavailable()
          const given = input.session_id === undefined || input.session_id === "" ? undefined : input.session_id
          // the request's Idempotency-Key is its message's: a retry gets that message back, and its run
          const { idempotency_key: key, ...meta } = context.meta ?? {}
          const recorded = yield* sessions.recordUserMessage(given, { content: input.content, user_id: input.user_id ?? "default" }, context)
          if (key === undefined) return yield* startRun(input, context, recorded, meta)
          return yield* keyedStarts.run(
            recorded.message_id,
            Effect.gen(function*() {
              const earlier = yield* earlierRun(recorded.message_id)
              return earlier ?? (yield* startRun(input, context, recorded, meta))
            }),
            // once the run has ended its events are on the record, where a later retry finds it
            (run) => run.reply
          )
        })

      const chat = (input: ChatInput, context: CommandContext) =>
        Effect.gen(function*() {
          const settings = (yield* configuration.current).orchestrator
          const started = yield* start(input, context)
          const seconds = settings.chat_timeout_secs
          return yield* started.reply.pipe(
            Effect.timeout(Duration.seconds(seconds)),
            Effect.catchTag("TimeoutException", () =>
              Effect.gen(function*() {
                const stop = settings.on_timeout === "stop"
                const running = runs.get(started.run_id)
                if (stop && running !== undefined) {
                  running.stopping = `stopped: the chat did not answer within ${seconds} s (orchestrator.on_timeout is "stop")`
                  yield* Fiber.interrupt(running.fiber)
                }
                return yield* new ChatTimedOut({ seconds, stopped: stop })
              }))
          )
        })

      const rerun = (started: ChatRunStarted, context: CommandContext) =>
        Effect.gen(function*() {
          const session = yield* sessions.get(started.session_id)
          const run = newRun({
            runId: started.run_id,
            sessionId: started.session_id,
            content: session.user_messages[started.message_index] ?? "",
            history: historyOf(session, started.message_index),
            ctx: context
          })
          yield* steps.record(run, [draft<ChatRunStarted>(CHAT_RUN_STARTED, started)])
          return yield* Fiber.join(yield* fork(run, initial(null)))
        })

      return Orchestrator.of({
        rerun,
        start,
        run: (input, context) => Effect.flatMap(start(input, context), (r) => r.reply),
        chat,
        tokens: Stream.fromPubSub(live),
        running: Effect.sync(() => [...runs.keys()]),
        recover: yield* makeRecovery(steps, fork)
      })
    })
  )
}
