/**
 * The orchestrator (Ouroboros): a chat message goes through interview → seed → execute →
 * evaluate → evolve. The interview asks the model to score how clear the goal, constraints and
 * success criteria are; too ambiguous (1 - mean clarity > 0.2) and the questions are the reply,
 * the next message of the session continuing the interview. A clear request becomes a seed, an
 * agent executes it through the gate, the result is checked (named files must exist, then the
 * model scores it) and, while it fails and generations remain, a child seed with a refined goal
 * is executed again. Each phase is `phase_started` / `phase_completed` on
 * `orchestrator-<session id>`; the user's message and the reply are recorded in the session.
 *
 * `chat` runs the loop in a fiber of the service's own scope (it lives as long as the kernel) and
 * waits at most `orchestrator.chat_timeout_secs`: past that it fails with ChatTimedOut while the
 * run goes on.
 */
import type { EventDraft, EventStore, EventStoreError } from "@annal/store"
import type { SqlClient } from "@effect/sql"
import { Context, Data, Duration, Effect, Fiber, FiberSet, Layer, Option } from "effect"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { type AgentKilled, type AgentRunFailed, Supervisor } from "../agents/Supervisor.js"
import { Configuration } from "../config/Configuration.js"
import { type ChatMessage, collect, LanguageModel, type ModelError, ModelUnavailable, NOT_CONFIGURED } from "../llm/LanguageModel.js"
import { Memory } from "../memory/Memory.js"
import { Personas } from "../personas/Personas.js"
import { Programs, withSkills } from "../programs/Programs.js"
import { Seeds } from "../seeds/Seeds.js"
import { Sessions } from "../sessions/Sessions.js"
import { appendDecided, type CommandContext } from "../shared/Command.js"
import type { AlreadyExists, ConcurrentChange, EntityNotFound, InvalidCommand } from "../shared/errors.js"
import { Workspace } from "../workspace/Workspace.js"
import {
  decideInterview,
  missingPaths,
  type ModelEvaluation,
  parseEvaluation,
  parseInterview,
  parseRefinement,
  parseSeedSpec,
  questionsReply,
  type SeedSpec,
  shouldEvolve
} from "./decide.js"
import { type Phase, PHASE_COMPLETED, PHASE_STARTED, type PhaseCompleted, type PhaseStarted, orchestratorStream } from "./events.js"

export interface ChatInput {
  readonly content: string
  readonly user_id?: string | undefined
  /** "" or omitted: a new session. */
  readonly session_id?: string | undefined
}

export interface ChatReply {
  /** The id of the recorded reply (the session's agent message). */
  readonly id: string
  /** The user's message, as received. */
  readonly echo: string
  readonly reply: string
  readonly session_id: string
  /** The phase the run ended in: `interview` when the reply asks questions, `evaluate` after a full loop. */
  readonly phase: Phase
}

/** The chat did not answer within `orchestrator.chat_timeout_secs`; its run goes on. */
export class ChatTimedOut extends Data.TaggedError("ChatTimedOut")<{ readonly seconds: number }> {
  override get message() {
    return `the chat did not answer within ${this.seconds} s; it goes on in the background`
  }
}

export type ChatError =
  | ModelUnavailable
  | ModelError
  | AgentRunFailed
  | AgentKilled
  | InvalidCommand
  | EntityNotFound
  | AlreadyExists
  | ConcurrentChange
  | EventStoreError

export const INTERVIEW_PROMPT =
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

const draft = <A extends object>(type: string, data: A): EventDraft => ({ type, data: data as unknown as Record<string, unknown> })

/** The task an agent is given for a seed. */
export const taskOf = (seed: SeedSpec, memories: ReadonlyArray<string>): string =>
  [
    `Goal: ${seed.goal}`,
    ...(seed.constraints.length === 0 ? [] : ["Constraints:", ...seed.constraints.map((c) => `- ${c}`)]),
    ...(seed.acceptance_criteria.length === 0 ? [] : ["Acceptance criteria:", ...seed.acceptance_criteria.map((c) => `- ${c}`)]),
    ...(memories.length === 0 ? [] : ["Recalled memories:", ...memories.map((m) => `- ${m}`)])
  ].join("\n")

export class Orchestrator extends Context.Tag("@annal/kernel/Orchestrator")<
  Orchestrator,
  {
    /** Runs the loop for one message and waits for its reply (no time limit). */
    readonly run: (input: ChatInput, context: CommandContext) => Effect.Effect<ChatReply, ChatError>
    /** Runs the loop in the background and waits at most `orchestrator.chat_timeout_secs`. */
    readonly chat: (input: ChatInput, context: CommandContext) => Effect.Effect<ChatReply, ChatError | ChatTimedOut>
  }
>() {
  static readonly layer = Layer.scoped(
    Orchestrator,
    Effect.gen(function*() {
      const services = yield* Effect.context<SqlClient.SqlClient | EventStore>()
      const model = yield* LanguageModel
      const supervisor = yield* Supervisor
      const seeds = yield* Seeds
      const sessions = yield* Sessions
      const personas = yield* Personas
      const memory = yield* Memory
      const configuration = yield* Configuration
      const workspace = yield* Workspace
      const programs = yield* Programs
      const background = yield* FiberSet.make<ChatReply, ChatError>()

      /** One completion, its text. */
      const ask = (messages: ReadonlyArray<ChatMessage>) => Effect.map(collect(model.stream({ messages, temperature: 0 })), (c) => c.text)

      const run = (input: ChatInput, context: CommandContext) =>
        Effect.gen(function*() {
          if (model.info === undefined) return yield* new ModelUnavailable({ message: model.problem ?? NOT_CONFIGURED })
          const given = input.session_id === undefined || input.session_id === "" ? undefined : input.session_id
          // the earlier turns, oldest first (each message was answered before the next one came)
          const prior = given === undefined ? undefined : yield* sessions.get(given).pipe(Effect.catchTag("EntityNotFound", () => Effect.succeed(undefined)))
          const history: Array<ChatMessage> = []
          if (prior !== undefined) {
            prior.user_messages.forEach((content, i) => {
              history.push({ role: "user", content })
              const response = prior.agent_responses[i]
              if (response !== undefined) history.push({ role: "assistant", content: response.content })
            })
          }
          const recorded = yield* sessions.recordUserMessage(given, { content: input.content, user_id: input.user_id ?? "default" }, context)
          const sessionId = recorded.session_id
          const ctx: CommandContext = { actor: context.actor, meta: { ...context.meta, session_id: sessionId } }
          const mark = (type: string, phase: Phase) =>
            appendDecided(orchestratorStream(sessionId), "any", [draft<PhaseStarted | PhaseCompleted>(type, { session_id: sessionId, phase })], ctx).pipe(
              Effect.provide(services)
            )
          const phase = <A, E, R>(name: Phase, effect: Effect.Effect<A, E, R>) =>
            Effect.zipRight(mark(PHASE_STARTED, name), Effect.tap(effect, () => mark(PHASE_COMPLETED, name)))
          const respond = (reply: string, reached: Phase, seedId: string | null, passed: boolean | null) =>
            Effect.map(
              sessions.recordResponse(sessionId, { content: reply, seed_id: seedId, phase_reached: reached, evaluation_passed: passed }, ctx),
              (r): ChatReply => ({ id: r.message_id, echo: input.content, reply, session_id: sessionId, phase: reached })
            )
          const conversation = (system: string): ReadonlyArray<ChatMessage> => [
            { role: "system", content: system },
            ...history,
            { role: "user", content: input.content }
          ]

          // interview
          const interview = yield* phase(
            "interview",
            Effect.flatMap(ask(conversation(INTERVIEW_PROMPT)), (text) => Effect.map(parseInterview(text), decideInterview))
          )
          if (!interview.passed) return yield* respond(questionsReply(interview.questions), "interview", null, null)

          // seed
          const { spec, created } = yield* phase(
            "seed",
            Effect.gen(function*() {
              const spec = yield* Effect.flatMap(ask(conversation(SEED_PROMPT)), (text) => parseSeedSpec(text))
              return { spec, created: yield* seeds.create({ ...spec }, ctx) }
            })
          )
          let seed = created
          let current: SeedSpec = spec

          const persona = yield* personas.active
          const systemPrompt = Option.match(persona, { onNone: () => undefined, onSome: (p) => p.system_prompt })
          const memories = yield* memory.semantic({ query: spec.goal, limit: 3 }, ctx).pipe(
            Effect.map((r) => r.entries.map((e) => e.content)),
            Effect.catchAll(() => Effect.succeed([] as Array<string>))
          )
          const skills = yield* Effect.orElseSucceed(programs.skillsFor(spec.goal), () => [])
          const maxGenerations = (yield* configuration.current).orchestrator.max_generations

          for (let generation = 1;; generation++) {
            const result = yield* phase(
              "execute",
              supervisor.run({
                name: `chat-${sessionId}`,
                goal: taskOf(current, memories),
                seed_id: seed.id,
                session_id: sessionId,
                system_prompt: withSkills(systemPrompt, skills),
                history
              }, ctx)
            )
            const evaluation = yield* phase(
              "evaluate",
              Effect.gen(function*() {
                const missing = missingPaths(current.acceptance_criteria, (p) => existsSync(join(workspace.root, p)))
                // a file the criteria name is missing: failed without asking the model
                const judged: ModelEvaluation = missing.length > 0
                  ? { score: 0, passed: false, summary: `missing: ${missing.join(", ")}` }
                  : yield* Effect.flatMap(
                    ask([
                      { role: "system", content: EVALUATE_PROMPT },
                      { role: "user", content: `${taskOf(current, [])}\n\nThe agent's final answer:\n${result.text}` }
                    ]),
                    (text) => parseEvaluation(text)
                  )
                yield* seeds.recordEvaluation(seed.id, judged, ctx)
                return judged
              })
            )
            if (!shouldEvolve(evaluation.passed, generation, maxGenerations)) {
              return yield* respond(result.text, "evaluate", seed.id, evaluation.passed)
            }
            const parent = seed
            const refined = yield* phase(
              "evolve",
              Effect.gen(function*() {
                const goal = yield* Effect.flatMap(
                  ask([
                    { role: "system", content: EVOLVE_PROMPT },
                    {
                      role: "user",
                      content: `${taskOf(current, [])}\n\nThe agent's final answer:\n${result.text}\n\nEvaluation: score ${evaluation.score}${
                        evaluation.summary === null ? "" : `, ${evaluation.summary}`
                      }`
                    }
                  ]),
                  (text) => parseRefinement(text)
                )
                const next: SeedSpec = { ...current, goal }
                const child = yield* seeds.create({ ...next, parent_seed_id: parent.id }, ctx)
                return { next, child }
              })
            )
            current = refined.next
            seed = refined.child
          }
        })

      const chat = (input: ChatInput, context: CommandContext) =>
        Effect.gen(function*() {
          if (model.info === undefined) return yield* new ModelUnavailable({ message: model.problem ?? NOT_CONFIGURED })
          const seconds = (yield* configuration.current).orchestrator.chat_timeout_secs
          const fiber = yield* FiberSet.run(background, run(input, context))
          return yield* Fiber.join(fiber).pipe(
            Effect.timeoutFail({ duration: Duration.seconds(seconds), onTimeout: () => new ChatTimedOut({ seconds }) })
          )
        })

      return { run, chat }
    })
  )
}
