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
 * (`tokens`), never logged. A run the last stop cut off is resumed on start — from its seed, or
 * from the interview when it had none — once; after that it is failed with the reason.
 *
 * Runs are fibers of the service's own scope: `chat` waits at most
 * `orchestrator.chat_timeout_secs`, then the run goes on or is stopped (`orchestrator.on_timeout`).
 */
import { type EventDraft, type EventMeta, EventStore, type EventStoreError, IdGenerator } from "@annal/store"
import { Cause, Context, Data, Deferred, Duration, Effect, Either, Exit, Fiber, FiberId, FiberSet, Layer, Option, PubSub, Stream } from "effect"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { type AgentKilled, type AgentRunFailed, type AgentRunResult, Supervisor } from "../agents/Supervisor.js"
import { Configuration } from "../config/Configuration.js"
import { AgentGroups } from "../groups/AgentGroups.js"
import {
  type ChatMessage,
  collect,
  LanguageModel,
  type ModelError,
  ModelUnavailable,
  NOT_CONFIGURED,
  type ResponseFormat
} from "../llm/LanguageModel.js"
import { askStructured, type Structured } from "../llm/StructuredOutput.js"
import { Memory } from "../memory/Memory.js"
import { Personas } from "../personas/Personas.js"
import { Programs, withSkills } from "../programs/Programs.js"
import { Scheduler, type TaskAbandoned } from "../scheduler/Scheduler.js"
import { Seeds } from "../seeds/Seeds.js"
import { type RecordedMessage, Sessions } from "../sessions/Sessions.js"
import { type CommandContext, commandsOf } from "../shared/Command.js"
import { beforeEgress } from "../shared/Egress.js"
import { type AlreadyExists, ConcurrentChange, type EntityNotFound, type InvalidCommand } from "../shared/errors.js"
import { Workspace } from "../workspace/Workspace.js"
import { FORMATS } from "./answers.js"
import {
  decideAfterInterview,
  decideResume,
  mechanicalEvaluation,
  missingPaths,
  type ModelEvaluation,
  parseEvaluation,
  parseInterview,
  parseRefinement,
  parseSeedSpec,
  questionsReply,
  seedFallback,
  type SeedSpec,
  shouldEvolve,
  splitCriteria
} from "./decide.js"
import { directReplyStream } from "./directReply.js"
import {
  CHAT_RUN_COMPLETED,
  CHAT_RUN_FAILED,
  CHAT_RUN_RESUMED,
  CHAT_RUN_STARTED,
  type ChatRunCompleted,
  type ChatRunFailed,
  type ChatRunResumed,
  type ChatRunStarted,
  chatRunStream,
  type Fallback,
  type Phase,
  PHASE_COMPLETED,
  PHASE_STARTED,
  type PhaseCompleted,
  type PhaseStarted
} from "./events.js"
import type { ChatRunRow } from "./projection.js"

export interface ChatInput {
  readonly content: string
  readonly user_id?: string | undefined
  /** "" or omitted: a new session (an unknown id starts a session of that id). */
  readonly session_id?: string | undefined
}

export interface ChatReply {
  /** The id of the recorded reply (the session's agent message). */
  readonly id: string
  /** The user's message, as received. */
  readonly echo: string
  readonly reply: string
  readonly session_id: string
  /**
   * The phase the run ended in: `respond` when the message asked for no work and was answered
   * directly, `interview` when the reply asks questions, `evaluate` after a full loop (`evolve`
   * when an unreadable refinement stopped it).
   */
  readonly phase: Phase
}

/** A token the model streamed during a run (live only; the log keeps whole answers). */
export interface LiveToken {
  readonly run_id: string
  readonly session_id: string
  readonly phase: Phase
  /** The agent that produced it, in the execute phase. */
  readonly agent_id?: string | undefined
  readonly text: string
}

/** The chat did not answer within `orchestrator.chat_timeout_secs`. */
export class ChatTimedOut extends Data.TaggedError("ChatTimedOut")<{ readonly seconds: number; readonly stopped: boolean }> {
  override get message() {
    return this.stopped
      ? `the chat did not answer within ${this.seconds} s and was stopped (orchestrator.on_timeout is "stop")`
      : `the chat did not answer within ${this.seconds} s; it goes on in the background and its reply will be in the session`
  }
}

/** The run a retried request (same Idempotency-Key) asks for failed: its recorded reason. */
export class ChatRunFailedEarlier extends Data.TaggedError("ChatRunFailedEarlier")<{ readonly run_id: string; readonly reason: string }> {
  override get message() {
    return `the run of this Idempotency-Key (${this.run_id}) failed: ${this.reason}`
  }
}

/** Every agent of a group failed or was stopped: there is no work to evaluate. */
export class GroupFailed extends Data.TaggedError("GroupFailed")<{ readonly group_id: string; readonly message: string }> {}

export type ChatError =
  | ChatRunFailedEarlier
  | ModelUnavailable
  | ModelError
  | AgentRunFailed
  | AgentKilled
  | TaskAbandoned
  | GroupFailed
  | InvalidCommand
  | EntityNotFound
  | AlreadyExists
  | ConcurrentChange
  | EventStoreError

/** A run started in the background. */
export interface ChatRun {
  readonly run_id: string
  readonly session_id: string
  /** Waits for the reply. */
  readonly reply: Effect.Effect<ChatReply, ChatError>
}

/** The interview's prompt: work or not (answered then), and how clear the work is. */
export const INTERVIEW_PROMPT =
  "You are the interviewer of an agent OS. First decide whether the user's latest message asks for work (files to write or change, commands to run, something to find out or build) " +
  "or not (a greeting, thanks, small talk, a question you can answer from the conversation and what you know). " +
  "If it asks for no work, answer the user yourself: {\"asks_for_work\": false, \"reply\": \"your answer to the user\", \"goal_clarity\": 1, \"constraints_clarity\": 1, \"success_clarity\": 1, \"questions\": []}. " +
  "If it asks for work, judge whether the request (with the conversation so far) is clear enough to act on: " +
  "{\"asks_for_work\": true, \"reply\": \"\", \"goal_clarity\": 0..1, \"constraints_clarity\": 0..1, \"success_clarity\": 0..1, \"questions\": [\"...\"]} — " +
  "the questions that would make it clearer (none when it is clear). Answer with JSON only."
/** The interview's prompt when direct answers are off (`orchestrator.direct_answers: false`): only how clear the request is. */
export const WORK_INTERVIEW_PROMPT =
  "You are the interviewer of an agent OS. Judge whether the user's request (with the conversation so far) is clear enough to act on. " +
  "Answer with JSON only: {\"goal_clarity\": 0..1, \"constraints_clarity\": 0..1, \"success_clarity\": 0..1, \"questions\": [\"...\"]} — " +
  "the questions that would make it clearer (none when it is clear)."
export const SEED_PROMPT =
  "Turn the user's request (with the conversation so far) into a specification. Answer with JSON only: " +
  "{\"goal\": \"...\", \"constraints\": [\"...\"], \"acceptance_criteria\": [\"...\"], \"ontology\": {\"name\": \"...\", \"description\": \"...\", \"fields\": []}}. " +
  "Name files an acceptance criterion needs in backquotes, e.g. `notes/plan.md`, relative to the workspace."
export const EVALUATE_PROMPT =
  "Judge whether the work meets the goal and every acceptance criterion. Answer with JSON only: {\"score\": 0..1, \"passed\": true|false, \"summary\": \"...\"}."
export const EVOLVE_PROMPT =
  "The work fell short of its acceptance criteria. Refine the goal so that the next attempt meets them. Answer with JSON only: {\"goal\": \"...\"}."

/** What a structured phase's `phase_completed` says about the model's answer: repaired, or unreadable and the fallback taken. */
const answerDetail = (answer: Structured<unknown>, fallback: Fallback): Partial<PhaseCompleted> =>
  answer._tag === "Unreadable" ? { repaired: true, fallback, detail: answer.error } : answer.repaired ? { repaired: true } : {}

const FALLBACKS: Record<Fallback, string> = {
  let_through: "the request goes through as clear enough to try",
  message_as_goal: "the user's message is the goal, with no criteria",
  mechanical_result: "the mechanical checks decide",
  stop_evolving: "no further generation; the last answer is the reply"
}

/** Chat runs are interactive: the scheduler admits them before background work of normal priority. */
const CHAT_PRIORITY = "High" as const

/** The actor of what the orchestrator does on its own (resuming or failing cut-off runs). */
export const ORCHESTRATOR_ACTOR = "system:orchestrator"

const draft = <A extends object>(type: string, data: A): EventDraft => ({ type, data: data as unknown as Record<string, unknown> })

const lines = (title: string, items: ReadonlyArray<string>) => (items.length === 0 ? [] : [title, ...items.map((c) => `- ${c}`)])

/** The task an agent is given for a seed. */
export const taskOf = (seed: SeedSpec, memories: ReadonlyArray<string>): string =>
  [
    `Goal: ${seed.goal}`,
    ...lines("Constraints:", seed.constraints),
    ...lines("Acceptance criteria:", seed.acceptance_criteria),
    ...lines("Recalled memories:", memories)
  ].join("\n")

/** The task of one member of a group: the whole goal, and the part of the criteria that is this member's. */
export const memberTaskOf = (seed: SeedSpec, part: ReadonlyArray<string>, member: number, members: number, memories: ReadonlyArray<string>): string =>
  [
    `Goal: ${seed.goal}`,
    ...lines("Constraints:", seed.constraints),
    `You are agent ${member} of ${members} working on this goal in parallel. Your part: meet these acceptance criteria (the other agents take the rest):`,
    ...part.map((c) => `- ${c}`),
    ...lines("Recalled memories:", memories)
  ].join("\n")

/** The work of a group, as the evaluation reads it. */
const groupAnswer = (parts: ReadonlyArray<{ readonly criteria: ReadonlyArray<string>; readonly text: string }>) =>
  parts.map((p, i) => `Agent ${i + 1} (${p.criteria.join("; ")}):\n${p.text}`).join("\n\n")

const errorMessage = (e: { readonly message?: unknown }) => String(e.message ?? e)

/** Where a run starts or goes on from. */
type Entry = { readonly phase: "interview" } | { readonly phase: "execute"; readonly seed_id: string }

/** What a run knows of itself. */
interface RunContext {
  readonly runId: string
  readonly sessionId: string
  readonly content: string
  readonly history: ReadonlyArray<ChatMessage>
  readonly ctx: CommandContext
  /** Where the run is: its phase (the last `phase_started`), and its reply's message once the session holds it. */
  readonly progress: { phase: Phase | null; replied?: string }
}

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
  }
>() {
  static readonly layer = Layer.scoped(
    Orchestrator,
    Effect.gen(function*() {
      const ids = yield* IdGenerator
      const store = yield* EventStore
      const model = yield* LanguageModel
      const supervisor = yield* Supervisor
      const scheduler = yield* Scheduler
      const groups = yield* AgentGroups
      const seeds = yield* Seeds
      const sessions = yield* Sessions
      const personas = yield* Personas
      const memory = yield* Memory
      const configuration = yield* Configuration
      const workspace = yield* Workspace
      const programs = yield* Programs
      const background = yield* FiberSet.make<ChatReply, ChatError>()
      const live = yield* PubSub.unbounded<LiveToken>()
      // runs being stopped on purpose (timeout), with why: their agents are killed and their end recorded
      const stopping = new Map<string, string>()
      const fibers = new Map<string, Fiber.RuntimeFiber<ChatReply, ChatError>>()

      const unavailable = () => new ModelUnavailable({ message: model.problem ?? NOT_CONFIGURED })
      const commands = commandsOf(store)

      /** Appends to a run's stream; only the run's own fiber (or start-up, before it) writes there. */
      const record = (run: RunContext, drafts: ReadonlyArray<EventDraft>) => Effect.asVoid(commands.appendDecided(chatRunStream(run.runId), "any", drafts, run.ctx))

      const newRun = (fields: Omit<RunContext, "progress">, phase: Phase | null = null): RunContext => ({ ...fields, progress: { phase } })

      /**
       * One completion's text, its tokens published as the run's; with `directReply`, the text of
       * a direct answer in the interview's JSON is also published as the `respond` phase's.
       */
      const complete = (run: RunContext, phase: Phase, format: ResponseFormat, directReply = false) => (messages: ReadonlyArray<ChatMessage>) =>
        Effect.suspend(() => {
          const reply = directReply ? directReplyStream() : undefined
          const publish = (phase: Phase, text: string) => PubSub.publish(live, { run_id: run.runId, session_id: run.sessionId, phase, text })
          const answer = Effect.map(
            collect(
              model.stream({ messages, temperature: 0, responseFormat: format }).pipe(
                Stream.tap((chunk) => {
                  if (chunk._tag !== "Token") return Effect.void
                  const replied = reply?.push(chunk.text) ?? ""
                  return replied === "" ? publish(phase, chunk.text) : Effect.zipRight(publish(phase, chunk.text), publish("respond", replied))
                })
              )
            ),
            (c) => c.text
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

      /** One agent, admitted by the scheduler, working on `goal`. */
      const agent = (
        run: RunContext,
        input: {
          readonly agentId: string
          readonly name: string
          readonly goal: string
          readonly seedId: string
          readonly systemPrompt: string | undefined
          readonly spec: SeedSpec
        }
      ) =>
        Effect.gen(function*() {
          const agentId = input.agentId
          return yield* scheduler.runTask(
            {
              description: input.name,
              goal: input.goal,
              constraints: input.spec.constraints,
              acceptance_criteria: input.spec.acceptance_criteria,
              priority: CHAT_PRIORITY,
              source: { kind: "session", id: run.sessionId }
            },
            (task) =>
              Effect.flatMap(
                supervisor.start({
                  name: input.name,
                  goal: input.goal,
                  agent_id: agentId,
                  seed_id: input.seedId,
                  task_id: task.id,
                  session_id: run.sessionId,
                  system_prompt: input.systemPrompt,
                  history: run.history,
                  onEvent: (event) =>
                    event._tag === "Token"
                      ? Effect.asVoid(PubSub.publish(live, { run_id: run.runId, session_id: run.sessionId, phase: "execute", agent_id: agentId, text: event.text }))
                      : Effect.void
                }, run.ctx),
                // a run stopped on purpose takes its agents with it; on a server stop they are left to the next start
                (handle) => handle.result.pipe(Effect.onInterrupt(() => (stopping.has(run.runId) ? Effect.ignore(supervisor.kill(handle.agent_id, run.ctx)) : Effect.void)))
              ),
            (result: AgentRunResult) => result.text,
            run.ctx
          )
        })

      /** The execute phase: one agent, or a group of agents for a seed with many criteria. */
      const execute = (run: RunContext, spec: SeedSpec, seedId: string, systemPrompt: string | undefined, memories: ReadonlyArray<string>) =>
        Effect.gen(function*() {
          const { max_group_size } = (yield* configuration.current).orchestrator
          const parts = splitCriteria(spec.acceptance_criteria, max_group_size)
          const name = `chat-${run.sessionId}`
          if (parts === undefined) {
            return (yield* agent(run, { agentId: yield* ids.next, name, goal: taskOf(spec, memories), seedId, systemPrompt, spec })).text
          }
          const agentIds = yield* Effect.replicateEffect(ids.next, parts.length)
          const group = yield* groups.create({ name: `${name}-seed-${seedId}`, agent_ids: agentIds }, run.ctx)
          const results = yield* Effect.forEach(parts, (part, i) =>
            agent(run, { agentId: agentIds[i]!, name: `${name}-part-${i + 1}`, goal: memberTaskOf(spec, part, i + 1, parts.length, memories), seedId, systemPrompt, spec }).pipe(
              Effect.either,
              Effect.tap((r) =>
                groups.memberCompleted(group.id, agentIds[i]!, Either.match(r, {
                  onLeft: (e) => ({ success: false, result: errorMessage(e) }),
                  onRight: (a) => ({ success: true, result: a.text })
                }), run.ctx)
              ),
              Effect.map((r) => ({ criteria: part, text: Either.match(r, { onLeft: (e) => `(failed: ${errorMessage(e)})`, onRight: (a) => a.text }), ok: Either.isRight(r) }))
            ), { concurrency: "unbounded" })
          if (!results.some((r) => r.ok)) {
            return yield* new GroupFailed({ group_id: group.id, message: `every agent of group ${group.id} failed: ${results.map((r) => r.text).join("; ")}` })
          }
          return groupAnswer(results)
        })

      /** The loop from `entry` to the reply. */
      const loop = (run: RunContext, entry: Entry) =>
        Effect.gen(function*() {
          const settings = (yield* configuration.current).orchestrator
          const conversation = (system: string): ReadonlyArray<ChatMessage> => [
            { role: "system", content: system },
            ...run.history,
            { role: "user", content: run.content }
          ]
          let spec: SeedSpec
          let seed: { readonly id: string; readonly generation: number }
          if (entry.phase === "interview") {
            const direct = settings.direct_answers
            const interview = yield* phase(
              run,
              "interview",
              Effect.map(
                ask(
                  run,
                  "interview",
                  conversation(direct ? INTERVIEW_PROMPT : WORK_INTERVIEW_PROMPT),
                  direct ? FORMATS.directInterview : FORMATS.interview,
                  parseInterview,
                  "let_through",
                  direct
                ),
                (answer) => ({
                  answer,
                  // an unreadable interview lets the request through: it is clear enough to try
                  next: answer._tag === "Read" ? decideAfterInterview(answer.value, settings.ambiguity_threshold, direct) : { _tag: "Proceed" as const }
                })
              ),
              {
                detailOf: ({ answer, next }) => ({
                  outcome: next._tag === "Respond" ? "respond" : next._tag === "Ask" ? "questions" : "proceed",
                  ...answerDetail(answer, "let_through")
                })
              }
            )
            const next = interview.next
            if (next._tag === "Respond") {
              // answered in the interview's own call: the phase only puts the reply on the record
              yield* phase(run, "respond", Effect.void)
              return yield* respond(run, next.reply, "respond", null, null)
            }
            if (next._tag === "Ask") return yield* respond(run, questionsReply(next.questions), "interview", null, null)
            const made = yield* phase(
              run,
              "seed",
              Effect.gen(function*() {
                const answer = yield* ask(run, "seed", conversation(SEED_PROMPT), FORMATS.seed, parseSeedSpec, "message_as_goal")
                const spec = answer._tag === "Read" ? answer.value : seedFallback(run.content)
                return { spec, answer, seed: yield* seeds.create({ ...spec }, run.ctx) }
              }),
              { seedOf: (m) => m.seed.id, detailOf: (m) => answerDetail(m.answer, "message_as_goal") }
            )
            spec = made.spec
            seed = made.seed
          } else {
            const view = yield* seeds.get(entry.seed_id)
            if (!("goal" in view)) return yield* Effect.dieMessage(`seed ${entry.seed_id} of chat run ${run.runId} is not a structured seed`)
            spec = { goal: view.goal, constraints: view.constraints, acceptance_criteria: view.acceptance_criteria, ontology: view.ontology }
            seed = view
          }

          const persona = yield* personas.active
          const systemPrompt = Option.match(persona, { onNone: () => undefined, onSome: (p) => p.system_prompt })
          const memories = yield* memory.semantic({ query: spec.goal, limit: 3 }, run.ctx).pipe(
            Effect.map((r) => r.entries.map((e) => e.content)),
            Effect.catchAll(() => Effect.succeed([] as Array<string>))
          )
          const skills = yield* Effect.orElseSucceed(programs.skillsFor(spec.goal), () => [])

          while (true) {
            const current = spec
            const generation = seed.generation
            const seedId = seed.id
            const answer = yield* phase(run, "execute", execute(run, current, seedId, withSkills(systemPrompt, skills), memories), { generation, seedOf: () => seedId })
            const evaluation = yield* phase(
              run,
              "evaluate",
              Effect.gen(function*() {
                const missing = missingPaths(current.acceptance_criteria, (p) => existsSync(join(workspace.root, p)))
                // a file the criteria name is missing: failed without asking the model
                const verdict: Structured<ModelEvaluation> | undefined = missing.length > 0 ? undefined : yield* ask(
                  run,
                  "evaluate",
                  [
                    { role: "system", content: EVALUATE_PROMPT },
                    { role: "user", content: `${taskOf(current, [])}\n\nThe agent's final answer:\n${answer}` }
                  ],
                  FORMATS.evaluation,
                  parseEvaluation,
                  "mechanical_result"
                )
                const judged: ModelEvaluation = verdict === undefined
                  ? { score: 0, passed: false, summary: `missing: ${missing.join(", ")}` }
                  : verdict._tag === "Read"
                  ? verdict.value
                  : mechanicalEvaluation(current.acceptance_criteria)
                yield* seeds.recordEvaluation(seedId, judged, run.ctx)
                return { judged, verdict }
              }),
              { generation, seedOf: () => seedId, detailOf: (e) => (e.verdict === undefined ? {} : answerDetail(e.verdict, "mechanical_result")) }
            )
            const passed = evaluation.judged.passed
            if (!shouldEvolve(passed, generation, settings.max_generations)) {
              return yield* respond(run, answer, "evaluate", seedId, passed)
            }
            const refined = yield* phase(
              run,
              "evolve",
              Effect.gen(function*() {
                const judged = evaluation.judged
                const refinement = yield* ask(
                  run,
                  "evolve",
                  [
                    { role: "system", content: EVOLVE_PROMPT },
                    {
                      role: "user",
                      content: `${taskOf(current, [])}\n\nThe agent's final answer:\n${answer}\n\nEvaluation: score ${judged.score}${
                        judged.summary === null ? "" : `, ${judged.summary}`
                      }`
                    }
                  ],
                  FORMATS.refinement,
                  parseRefinement,
                  "stop_evolving"
                )
                if (refinement._tag === "Unreadable") return { refinement, next: undefined }
                const next: SeedSpec = { ...current, goal: refinement.value }
                return { refinement, next: { spec: next, child: yield* seeds.create({ ...next, parent_seed_id: seedId }, run.ctx) } }
              }),
              { generation, seedOf: (r) => r.next?.child.id ?? seedId, detailOf: (r) => answerDetail(r.refinement, "stop_evolving") }
            )
            // an unreadable refinement stops evolving: the last answer is the reply
            if (refined.next === undefined) return yield* respond(run, answer, "evolve", seedId, passed)
            spec = refined.next.spec
            seed = refined.next.child
          }
        })

      /** The run's fiber: the loop, then its end on the record — unless the server is stopping under it (the next start resumes it). */
      const fork = (run: RunContext, entry: Entry) =>
        Effect.gen(function*() {
          const ended = (exit: Exit.Exit<ChatReply, ChatError>) => {
            if (Exit.isSuccess(exit)) return Effect.void
            const stopped = stopping.get(run.runId)
            if (Cause.isInterruptedOnly(exit.cause) && stopped === undefined) return Effect.void
            const error = stopped ?? Option.match(Cause.failureOption(exit.cause), { onNone: () => Cause.pretty(exit.cause), onSome: errorMessage })
            return fail(run, run.progress.phase, error)
          }
          const fiber = yield* FiberSet.run(
            background,
            loop(run, entry).pipe(
              Effect.onExit(ended),
              Effect.ensuring(Effect.sync(() => {
                stopping.delete(run.runId)
                fibers.delete(run.runId)
              }))
            )
          )
          // (a run that already ended has nothing to stop)
          if (fiber.unsafePoll() === null) fibers.set(run.runId, fiber)
          return fiber
        })

      /** The earlier turns of a session, oldest first: its first `count` messages with their responses. */
      const historyOf = (session: { readonly user_messages: ReadonlyArray<string>; readonly agent_responses: ReadonlyArray<{ readonly content: string }> }, count: number) =>
        session.user_messages.slice(0, count).flatMap((content, i): Array<ChatMessage> => {
          const response = session.agent_responses[i]
          return response === undefined ? [{ role: "user", content }] : [{ role: "user", content }, { role: "assistant", content: response.content }]
        })

      /**
       * The run an earlier request with the same Idempotency-Key started for this message: joined
       * while it runs here, answered from the session once it has ended.
       */
      const earlierRun = (messageId: string) =>
        Effect.gen(function*() {
          const row = yield* commands.view("the run of a message", (db) => db.get<ChatRunRow>("SELECT * FROM chat_runs WHERE message_id = ?", [messageId]))
          if (row === undefined) return undefined
          const fiber = fibers.get(row.id)
          const answered = Effect.gen(function*() {
            if (row.status === "failed") return yield* new ChatRunFailedEarlier({ run_id: row.id, reason: row.error ?? "unknown" })
            const reply = row.reply_id === null ? undefined : yield* commands.view("a reply", (db) =>
              db.get<{ content: string }>("SELECT content FROM session_messages WHERE message_id = ? AND role = 'agent'", [row.reply_id]))
            if (reply === undefined) {
              return yield* new ConcurrentChange({ message: `the run of this Idempotency-Key (${row.id}) has not answered yet; its reply will be in session ${row.session_id}` })
            }
            const asked = yield* commands.view("a message", (db) =>
              db.get<{ content: string }>("SELECT content FROM session_messages WHERE message_id = ? AND role = 'user'", [messageId]))
            return { id: row.reply_id!, echo: asked?.content ?? "", reply: reply.content, session_id: row.session_id, phase: (row.phase as Phase | null) ?? "interview" } satisfies ChatReply
          })
          return { run_id: row.id, session_id: row.session_id, reply: fiber === undefined ? answered : Fiber.join(fiber) } satisfies ChatRun
        })

      // Runs of keyed requests in this process, by message, until they end: a retry that comes
      // before the first attempt's run is on the record joins it rather than starting another.
      const keyedStarts = new Map<string, Deferred.Deferred<ChatRun, ChatError>>()

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
          yield* record(run, [
            draft<ChatRunStarted>(CHAT_RUN_STARTED, {
              run_id: runId,
              session_id: recorded.session_id,
              message_id: recorded.message_id,
              message_index: recorded.index
            })
          ])
          const fiber = yield* fork(run, { phase: "interview" })
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
          const mine = Deferred.unsafeMake<ChatRun, ChatError>(FiberId.none)
          const first = keyedStarts.get(recorded.message_id)
          if (first !== undefined) return yield* Deferred.await(first)
          keyedStarts.set(recorded.message_id, mine)
          const forget = Effect.sync(() => keyedStarts.delete(recorded.message_id))
          return yield* Effect.gen(function*() {
            const earlier = yield* earlierRun(recorded.message_id)
            return earlier ?? (yield* startRun(input, context, recorded, meta))
          }).pipe(
            Effect.onExit((exit) => Deferred.done(mine, exit)),
            // once the run has ended its events are on the record, where a later retry finds it
            Effect.tap((run) => Effect.forkDaemon(Effect.ensuring(Effect.ignore(run.reply), forget))),
            Effect.tapErrorCause(() => forget)
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
                const fiber = fibers.get(started.run_id)
                if (stop && fiber !== undefined) {
                  stopping.set(started.run_id, `stopped: the chat did not answer within ${seconds} s (orchestrator.on_timeout is "stop")`)
                  yield* Fiber.interrupt(fiber)
                }
                return yield* new ChatTimedOut({ seconds, stopped: stop })
              }))
          )
        })

      // Start-up: runs the last stop cut off, resumed from their seed (or the interview), or failed with the reason.
      const recover = Effect.gen(function*() {
        let resumed = 0
        const cutOff = yield* commands.view("unfinished chat runs", (db) =>
          db.all<ChatRunRow>("SELECT * FROM chat_runs WHERE status = 'running' ORDER BY seq", []))
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
          }, (row.phase as Phase | null) ?? null)
          const decision = Option.isNone(content)
            ? { _tag: "Fail" as const, error: "interrupted by a restart, and its session or message is gone" }
            : decideResume(row, model.info === undefined ? model.problem ?? NOT_CONFIGURED : undefined)
          // the orchestrator decides this, not whoever sent the message
          const own: RunContext = { ...run, ctx: { ...ctx, actor: ORCHESTRATOR_ACTOR } }
          if (decision._tag === "Fail") {
            yield* fail(own, own.progress.phase, decision.error)
            continue
          }
          yield* record(own, [
            draft<ChatRunResumed>(CHAT_RUN_RESUMED, {
              run_id: row.id,
              session_id: row.session_id,
              phase: decision.phase,
              seed_id: decision.seed_id,
              reason: "interrupted by a restart"
            })
          ])
          yield* fork(run, decision.seed_id === null ? { phase: "interview" } : { phase: "execute", seed_id: decision.seed_id })
          resumed++
          yield* Effect.logInfo(`chat run ${row.id} resumed from ${decision.phase} after a restart`)
        }
        return cutOff.length === 0 ? "no chat run was cut off" : `${resumed} chat run(s) resumed, ${cutOff.length - resumed} failed`
      })

      return Orchestrator.of({
        start,
        run: (input, context) => Effect.flatMap(start(input, context), (r) => r.reply),
        chat,
        tokens: Stream.fromPubSub(live),
        running: Effect.sync(() => [...fibers.keys()]),
        recover
      })
    })
  )
}
