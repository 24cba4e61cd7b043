/**
 * The steps every phase of a run is made of, at the edge where they touch the world: the run's
 * events appended to its stream, a model completion (its tokens published live, after the
 * events it depends on are durable, its answer on the record before the run reads it), a structured answer with its repair and fallback, a phase
 * between its `phase_started` and `phase_completed`, and the run's end — a reply or a failure,
 * in the session and on the run.
 */
import { SqlClient } from "@effect/sql"
import { type EventDraft, EventStore } from "@annal/store"
import { Effect, type Either, PubSub, Stream } from "effect"
import { type ChatMessage, collect, LanguageModel, type ModelError, type ResponseFormat } from "../llm/LanguageModel.js"
import { MODEL_ANSWERED, MODEL_FAILED, type ModelAnswered, modelAnswered, type ModelFailed, modelFailed } from "../llm/events.js"
import { askStructured, type Structured } from "../llm/StructuredOutput.js"
import { Sessions } from "../sessions/Sessions.js"
import { type CommandContext, commandsOf, draft } from "../shared/Command.js"
import { beforeEgress } from "../shared/Egress.js"
import type { ChatReply, LiveToken } from "./chat.js"
import { directReplyStream } from "./directReply.js"
import {
  CHAT_RUN_COMPLETED,
  CHAT_RUN_FAILED,
  type ChatRunCompleted,
  type ChatRunFailed,
  chatRunStream,
  type Fallback,
  type Phase,
  PHASE_COMPLETED,
  PHASE_STARTED,
  type PhaseCompleted,
  type PhaseStarted
} from "./events.js"

/** What a run knows of itself. */
export interface RunContext {
  readonly runId: string
  readonly sessionId: string
  readonly content: string
  readonly history: ReadonlyArray<ChatMessage>
  readonly ctx: CommandContext
  /** Where the run is: its phase (the last `phase_started`), and its reply's message once the session holds it. */
  readonly progress: { phase: Phase | null; replied?: string }
}

export const newRun = (fields: Omit<RunContext, "progress">, phase: Phase | null = null): RunContext => ({ ...fields, progress: { phase } })

export const errorMessage = (e: { readonly message?: unknown }) => String(e.message ?? e)

/** What a structured phase's `phase_completed` says about the model's answer: repaired, or unreadable and the fallback taken. */
export const answerDetail = (answer: Structured<unknown>, fallback: Fallback): Partial<PhaseCompleted> =>
  answer._tag === "Unreadable" ? { repaired: true, fallback, detail: answer.error } : answer.repaired ? { repaired: true } : {}

const FALLBACKS: Record<Fallback, string> = {
  let_through: "the request goes through as clear enough to try",
  message_as_goal: "the user's message is the goal, with no criteria",
  mechanical_result: "the mechanical checks decide",
  stop_evolving: "no further generation; the last answer is the reply"
}

/** The steps over the kernel's store, model and sessions, publishing tokens to `live`. */
export const makeRunSteps = (live: PubSub.PubSub<LiveToken>) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const model = yield* LanguageModel
    const sessions = yield* Sessions
    const commands = commandsOf(store, yield* SqlClient.SqlClient)

    /** Appends to a run's stream; only the run's own fiber (or start-up, before it) writes there. */
    const record = (run: RunContext, drafts: ReadonlyArray<EventDraft>) => Effect.asVoid(commands.appendDecided(chatRunStream(run.runId), "any", drafts, run.ctx))

    /**
     * One completion's text, its tokens published as the run's; with `directReply`, the text of
     * a direct answer in the interview's JSON is also published as the `respond` phase's.
     */
    const complete = (run: RunContext, phase: Phase, format: ResponseFormat, directReply = false) => (messages: ReadonlyArray<ChatMessage>) =>
      Effect.suspend(() => {
        const reply = directReply ? directReplyStream() : undefined
        const publish = (phase: Phase, text: string) => PubSub.publish(live, { run_id: run.runId, session_id: run.sessionId, phase, text })
        const request = { messages, temperature: 0, responseFormat: format }
        const answer = collect(
          model.stream(request).pipe(
            Stream.tap((chunk) => {
              if (chunk._tag !== "Token") return Effect.void
              const replied = reply?.push(chunk.text) ?? ""
              return replied === "" ? publish(phase, chunk.text) : Effect.zipRight(publish(phase, chunk.text), publish("respond", replied))
            })
          )
        ).pipe(
          // the answer (or the failure) is on the record before the run reads it
          Effect.tapError((e) => record(run, [draft<ModelFailed>(MODEL_FAILED, modelFailed(request, e, { run_id: run.runId, phase }))])),
          Effect.tap((c) => record(run, [draft<ModelAnswered>(MODEL_ANSWERED, modelAnswered(request, c, { run_id: run.runId, phase }))])),
          Effect.map((c) => c.text)
        )
        return Effect.zipRight(beforeEgress(store), answer)
      })

    /** A structured answer of a phase: read, repaired once, or unreadable (logged; the caller takes `fallback`). */
    const ask = <A>(
      run: RunContext,
      phase: Phase,
      messages: ReadonlyArray<ChatMessage>,
      format: ResponseFormat,
      read: (text: string) => Either.Either<A, ModelError>,
      fallback: Fallback,
      directReply = false
    ) =>
      Effect.gen(function*() {
        const answer: Structured<A> = yield* askStructured({ complete: complete(run, phase, format, directReply), messages, format, read })
        if (answer._tag === "Unreadable") {
          yield* Effect.logWarning(`chat run ${run.runId}: the model's ${phase} answer stayed unreadable after a repair request (${answer.error}); ${FALLBACKS[fallback]}`)
        }
        return answer
      })

    /** `effect` as the phase `name` of the run: `phase_started` before it, `phase_completed` (with what it found) after. */
    const phase = <A, E, R>(
      run: RunContext,
      name: Phase,
      effect: Effect.Effect<A, E, R>,
      details: {
        readonly generation?: number
        readonly seedOf?: (a: A) => string | null
        /** What else its `phase_completed` says (the interview's outcome, a repaired or unreadable answer). */
        readonly detailOf?: (a: A) => Partial<PhaseCompleted>
      } = {}
    ) =>
      Effect.gen(function*() {
        const generation = details.generation === undefined ? {} : { generation: details.generation }
        run.progress.phase = name
        yield* record(run, [draft<PhaseStarted>(PHASE_STARTED, { session_id: run.sessionId, phase: name, run_id: run.runId, ...generation })])
        const a = yield* effect
        const seedId = details.seedOf?.(a)
        yield* record(run, [
          draft<PhaseCompleted>(PHASE_COMPLETED, {
            session_id: run.sessionId,
            phase: name,
            run_id: run.runId,
            ...generation,
            ...(seedId === undefined ? {} : { seed_id: seedId }),
            ...details.detailOf?.(a)
          })
        ])
        return a
      })

    /** The reply: in the session, then the run's end. */
    const respond = (run: RunContext, reply: string, reached: Phase, seedId: string | null, passed: boolean | null) =>
      Effect.gen(function*() {
        const r = yield* sessions.recordResponse(run.sessionId, { content: reply, seed_id: seedId, phase_reached: reached, evaluation_passed: passed }, run.ctx)
        // the run's end failing to append below must not give its message a second response
        run.progress.replied = r.message_id
        yield* record(run, [
          draft<ChatRunCompleted>(CHAT_RUN_COMPLETED, {
            run_id: run.runId,
            session_id: run.sessionId,
            phase: reached,
            message_id: r.message_id,
            seed_id: seedId,
            passed
          })
        ])
        return { id: r.message_id, echo: run.content, reply, session_id: run.sessionId, phase: reached } satisfies ChatReply
      })

    /** A run without an answer: why, in the session (so each message keeps its response) and on the run. */
    const fail = (run: RunContext, reached: Phase | null, error: string) =>
      Effect.gen(function*() {
        const replied = run.progress.replied
        const recorded = replied !== undefined ? replied : yield* sessions.recordResponse(
          run.sessionId,
          { content: `The run failed: ${error}`, seed_id: null, phase_reached: reached, evaluation_passed: null },
          run.ctx
        ).pipe(
          Effect.map((r) => r.message_id),
          // a session deleted meanwhile has nowhere to keep it; the run's event still says it
          Effect.catchTag("EntityNotFound", () => Effect.succeed(null))
        )
        yield* record(run, [
          draft<ChatRunFailed>(CHAT_RUN_FAILED, { run_id: run.runId, session_id: run.sessionId, phase: reached, error, message_id: recorded })
        ])
      }).pipe(Effect.catchAll((e) => Effect.logError(`could not record the failure of chat run ${run.runId}`, e)))

    return { record, complete, ask, phase, respond, fail }
  })

/** The steps of runs, as `makeRunSteps` builds them. */
export type RunSteps = Effect.Effect.Success<ReturnType<typeof makeRunSteps>>
