/**
 * An agent's tool-calling loop: send the messages and the tools it is offered (`ToolOffer`, on
 * the record in its `agent_started`) to the model,
 * put its answer on the record, charge the usage it reports, pass every tool call it makes
 * through the ToolGate and answer it with the result (a refusal is a tool error the model sees),
 * until it answers without tool calls or runs out of steps.
 */
import { type EventDraft, EventStore, type EventStoreError } from "@annal/store"
import { Effect, Stream } from "effect"
import { ToolGate, type ToolCallResult } from "../gate/ToolGate.js"
import { type ChatMessage, collect, LanguageModel, type ModelError, type ModelUnavailable, type TokenUsage, type ToolCall } from "../llm/LanguageModel.js"
import { MODEL_ANSWERED, MODEL_FAILED, type ModelAnswered, modelAnswered, type ModelFailed, modelFailed } from "../llm/events.js"
import { Permissions } from "../permissions/Permissions.js"
import { type CommandContext, draft } from "../shared/Command.js"
import { beforeEgress } from "../shared/Egress.js"
import type { ConcurrentChange, EntityNotFound, InvalidCommand } from "../shared/errors.js"
import { ToolOffer } from "../tools/ToolOffer.js"
import { AGENT_OUTPUT, AGENT_STARTED, type AgentOutput, type AgentStarted, type StopReason } from "./events.js"

/** Steps (model calls) an agent gets when the caller names no limit. */
export const DEFAULT_MAX_STEPS = 8

/** The actor of the supervisor's own transitions (granting an agent its permissions, failing agents a restart cut off). */
export const SUPERVISOR_ACTOR = "system:supervisor"

/** What an agent's loop reports as it goes, for a caller that streams it (the chat). */
export type AgentLoopEvent =
  | { readonly _tag: "Token"; readonly text: string }
  | { readonly _tag: "ToolCall"; readonly call: ToolCall }
  | { readonly _tag: "ToolResult"; readonly result: ToolCallResult }
  | { readonly _tag: "Step"; readonly step: number; readonly usage: TokenUsage }

export interface AgentRunInput {
  readonly name: string
  /** The user's message: what the agent is to do. */
  readonly goal: string
  /** A stable id (e.g. a session's agent); a fresh UUID v7 otherwise. */
  readonly agent_id?: string | undefined
  readonly seed_id?: string | undefined
  readonly task_id?: string | undefined
  readonly session_id?: string | undefined
  readonly system_prompt?: string | undefined
  /** Earlier turns of the conversation, before the goal. */
  readonly history?: ReadonlyArray<ChatMessage> | undefined
  readonly max_steps?: number | undefined
  /** Called in the agent's fiber for every token, tool call, tool result and step. */
  readonly onEvent?: ((event: AgentLoopEvent) => Effect.Effect<void>) | undefined
}

export interface AgentRunResult {
  readonly agent_id: string
  /** The model's last answer. */
  readonly text: string
  readonly steps: number
  readonly reason: Exclude<StopReason, "killed">
  /** Tokens over all the agent's model calls. */
  readonly usage: TokenUsage
}

/** How an agent's loop can fail. */
export type LoopError = ModelUnavailable | ModelError | InvalidCommand | EntityNotFound | ConcurrentChange | EventStoreError

/** The messages an agent starts with: its system prompt, the earlier turns, its goal. */
const firstMessages = (input: AgentRunInput): Array<ChatMessage> => [
  ...(input.system_prompt === undefined || input.system_prompt === "" ? [] : [{ role: "system" as const, content: input.system_prompt }]),
  ...(input.history ?? []),
  { role: "user", content: input.goal }
]

/**
 * The loop over the kernel's model, gate, tools and permissions; `progress` appends an agent's
 * events while it is live.
 */
export const makeAgentLoop = (
  progress: (agentId: string, drafts: ReadonlyArray<EventDraft>, context: CommandContext) => Effect.Effect<void, EntityNotFound | ConcurrentChange | EventStoreError>
) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const model = yield* LanguageModel
    const gate = yield* ToolGate
    const offer = yield* ToolOffer
    const permissions = yield* Permissions

    /** The loop of one agent; the stream holds its agent_created when it begins. */
    return (agentId: string, input: AgentRunInput, context: CommandContext): Effect.Effect<AgentRunResult, LoopError> =>
      Effect.gen(function*() {
        const append = (drafts: ReadonlyArray<EventDraft>) => progress(agentId, drafts, context)
        const emit = (event: AgentLoopEvent) => (input.onEvent === undefined ? Effect.void : input.onEvent(event))

        // the tools it is offered are fixed as it starts, and on the record
        const offered = yield* offer.offered({ id: agentId, name: input.name })
        yield* append([draft<AgentStarted>(AGENT_STARTED, { agent_id: agentId, ...(offered.onRecord ? { tools: offered.tools } : {}) })])
        // the supervisor, not the agent, grants an agent its permissions
        yield* permissions.ensureDefaults(agentId, { ...context, actor: SUPERVISOR_ACTOR })

        const messages = firstMessages(input)
        const maxSteps = Math.max(1, input.max_steps ?? DEFAULT_MAX_STEPS)
        const usage = { prompt_tokens: 0, completion_tokens: 0 }
        let text = ""
        for (let step = 1; step <= maxSteps; step++) {
          yield* beforeEgress(store)
          const request = { messages: [...messages], tools: offered.tools }
          const completion = yield* collect(
            model.stream(request).pipe(
              Stream.tap((chunk) =>
                chunk._tag === "Token" ? emit({ _tag: "Token", text: chunk.text }) : chunk._tag === "ToolCall" ? emit({ _tag: "ToolCall", call: chunk.call }) : Effect.void
              )
            )
          ).pipe(Effect.tapError((e) => append([draft<ModelFailed>(MODEL_FAILED, modelFailed(request, e, { agent_id: agentId, step }))])))
          // the answer is on the record before anything uses it; then the real usage, as the
          // model reported it, is charged before anything else happens
          yield* append([draft<ModelAnswered>(MODEL_ANSWERED, modelAnswered(request, completion, { agent_id: agentId, step }))])
          yield* gate.chargeUsage(agentId, completion.usage, context)
          usage.prompt_tokens += completion.usage.prompt_tokens
          usage.completion_tokens += completion.usage.completion_tokens
          yield* append([draft<AgentOutput>(AGENT_OUTPUT, {
            agent_id: agentId,
            step,
            tokens: completion.usage.prompt_tokens + completion.usage.completion_tokens,
            tool_call_count: completion.toolCalls.length,
            text: completion.text
          })])
          yield* emit({ _tag: "Step", step, usage: completion.usage })
          text = completion.text
          if (completion.toolCalls.length === 0) {
            return { agent_id: agentId, text, steps: step, reason: "completed", usage: { ...usage } } satisfies AgentRunResult
          }
          messages.push({ role: "assistant", content: completion.text, tool_calls: completion.toolCalls })
          for (const call of completion.toolCalls) {
            const result = yield* gate.call(agentId, call, context)
            yield* emit({ _tag: "ToolResult", result })
            messages.push({ role: "tool", content: result.is_error ? `error: ${result.content}` : result.content, tool_call_id: call.id })
          }
        }
        return { agent_id: agentId, text, steps: maxSteps, reason: "max_steps", usage: { ...usage } } satisfies AgentRunResult
      })
  })
