/**
 * What a language model answered, on the record: `model_answered`, appended on the stream of
 * whoever asked (a chat run's `chat-run-<id>` for the orchestrator's phases, an agent's
 * `agent-<id>` for its steps) right after the answer arrives and before anything uses it. With
 * the tool results (`tool_call_completed` carries the output whole), it is everything a run reads
 * from outside the log, so a run can be replayed without firing the model again. The text and the
 * tool calls stay on the record: a live stream shows none of them (`publicView`). A completion
 * that fails is `model_failed`, with the error the asker got.
 */
import { Chain } from "@annal/store"
import { Schema } from "effect"
import { createHash } from "node:crypto"
import type { Completion, CompletionRequest, ModelError, ModelUnavailable } from "./LanguageModel.js"

export const MODEL_ANSWERED = "model_answered"

/** A tool call as the model made it: its id, the tool, the arguments as the JSON text it produced. */
export const RecordedToolCall = Schema.Struct({ id: Schema.String, name: Schema.String, arguments: Schema.String })

/**
 * One completion, whole: `request_sha256` identifies what was asked (`requestDigest`), so a
 * replay that asks something else is caught; `phase` names the chat phase that asked, `step` the
 * agent's step.
 */
export const ModelAnswered = Schema.Struct({
  request_sha256: Schema.String,
  text: Schema.String,
  tool_calls: Schema.Array(RecordedToolCall),
  prompt_tokens: Schema.Int,
  completion_tokens: Schema.Int,
  finish_reason: Schema.String,
  run_id: Schema.optional(Schema.String),
  phase: Schema.optional(Schema.String),
  agent_id: Schema.optional(Schema.String),
  step: Schema.optional(Schema.Int)
})
export type ModelAnswered = typeof ModelAnswered.Type

export const MODEL_FAILED = "model_failed"

/**
 * A completion that failed (the endpoint unreachable or answering an error, no model): what the
 * asker got instead of an answer — `unavailable` for no usable model — so a replay fails alike.
 */
export const ModelFailed = Schema.Struct({
  request_sha256: Schema.String,
  error: Schema.String,
  unavailable: Schema.Boolean,
  run_id: Schema.optional(Schema.String),
  phase: Schema.optional(Schema.String),
  agent_id: Schema.optional(Schema.String),
  step: Schema.optional(Schema.Int)
})
export type ModelFailed = typeof ModelFailed.Type

/** The parts of a request that decide the answer, without the fields left undefined. */
const requestShape = (request: CompletionRequest) => ({
  messages: request.messages.map((m) => ({
    role: m.role,
    content: m.content,
    ...(m.tool_calls === undefined ? {} : { tool_calls: m.tool_calls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments })) }),
    ...(m.tool_call_id === undefined ? {} : { tool_call_id: m.tool_call_id })
  })),
  ...(request.tools === undefined ? {} : { tools: request.tools.map((t) => ({ name: t.name, description: t.description, parameters: t.parameters })) }),
  ...(request.maxTokens === undefined ? {} : { max_tokens: request.maxTokens }),
  ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
  ...(request.responseFormat === undefined ? {} : { response_format: { name: request.responseFormat.name, schema: request.responseFormat.schema } })
})

/** sha256 (hex) of the request's canonical JSON: equal requests, equal digests. */
export const requestDigest = (request: CompletionRequest): string =>
  createHash("sha256").update(Chain.canonicalJson(requestShape(request)), "utf8").digest("hex")

/** Who asked the model: a chat run's phase, or an agent's step. */
type Asker = { readonly run_id: string; readonly phase: string } | { readonly agent_id: string; readonly step: number }

/** The `model_failed` of a failed completion of `request`, with who asked. */
export const modelFailed = (request: CompletionRequest, error: ModelUnavailable | ModelError, asker: Asker): ModelFailed => ({
  request_sha256: requestDigest(request),
  error: error.message,
  unavailable: error._tag === "ModelUnavailable",
  ...asker
})

/** The `model_answered` of a completion to `request`, with who asked. */
export const modelAnswered = (
  request: CompletionRequest,
  completion: Completion,
  asker: Asker
): ModelAnswered => ({
  request_sha256: requestDigest(request),
  text: completion.text,
  tool_calls: completion.toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments })),
  prompt_tokens: completion.usage.prompt_tokens,
  completion_tokens: completion.usage.completion_tokens,
  finish_reason: completion.finishReason,
  ...asker
})
