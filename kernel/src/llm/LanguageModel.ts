/**
 * The language model: one interface, streaming text and tool calls and reporting token usage,
 * with providers for a local GGUF file (node-llama-cpp) and any OpenAI-compatible HTTP endpoint
 * (Ollama, llama.cpp server, vLLM, OpenAI). With none configured, every call fails with
 * `ModelUnavailable` saying how to configure one — never with made-up output.
 */
import { Context, Data, Effect, Layer, Stream } from "effect"

export type Role = "system" | "user" | "assistant" | "tool"

/** A call the model asks for: `arguments` is the JSON text it produced. */
export interface ToolCall {
  readonly id: string
  readonly name: string
  readonly arguments: string
}

export interface ChatMessage {
  readonly role: Role
  readonly content: string
  /** On assistant messages: the tool calls it made. */
  readonly tool_calls?: ReadonlyArray<ToolCall> | undefined
  /** On tool messages: the call this answers. */
  readonly tool_call_id?: string | undefined
}

/** A tool offered to the model: its JSON-schema parameters. */
export interface ToolSpec {
  readonly name: string
  readonly description: string
  readonly parameters: Readonly<Record<string, unknown>>
}

export interface TokenUsage {
  readonly prompt_tokens: number
  readonly completion_tokens: number
}

/** What a streaming completion yields, in order: tokens and tool calls, then usage and the end. */
export type ModelChunk =
  | { readonly _tag: "Token"; readonly text: string }
  | { readonly _tag: "ToolCall"; readonly call: ToolCall }
  | { readonly _tag: "Usage"; readonly usage: TokenUsage }
  | { readonly _tag: "Done"; readonly finishReason: string }

/**
 * An answer that must be JSON of this schema. A local model's sampling is constrained to it (a
 * grammar), so even a small model answers in shape; an HTTP endpoint is asked for it in the
 * prompt only, since servers differ in what structured-output options they accept.
 */
export interface ResponseFormat {
  /** A stable name: a provider may cache what it builds from the schema under it. */
  readonly name: string
  readonly schema: Readonly<Record<string, unknown>>
}

export interface CompletionRequest {
  readonly messages: ReadonlyArray<ChatMessage>
  readonly tools?: ReadonlyArray<ToolSpec> | undefined
  readonly maxTokens?: number | undefined
  readonly temperature?: number | undefined
  readonly responseFormat?: ResponseFormat | undefined
}

/** A whole completion, collected from the stream. */
export interface Completion {
  readonly text: string
  readonly toolCalls: ReadonlyArray<ToolCall>
  readonly usage: TokenUsage
  readonly finishReason: string
}

/** No model is configured, or the configured one cannot be used; the message says how to fix it. */
export class ModelUnavailable extends Data.TaggedError("ModelUnavailable")<{ readonly message: string }> {}

/** The model failed while answering (HTTP error, malformed stream, inference error). */
export class ModelError extends Data.TaggedError("ModelError")<{ readonly message: string; readonly cause?: unknown }> {}

/** What to do when no model is configured. */
export const NOT_CONFIGURED =
  "no language model configured: start with --model PATH (or ANNAL_MODEL_PATH) for a local GGUF file, or set ANNAL_LLM_BASE_URL and ANNAL_LLM_MODEL (and ANNAL_LLM_API_KEY if needed) for an OpenAI-compatible endpoint such as Ollama, or set the `llm` section of the configuration"

export interface ModelInfo {
  readonly provider: "llama" | "openai"
  readonly model: string
}

export class LanguageModel extends Context.Tag("@annal/kernel/LanguageModel")<
  LanguageModel,
  {
    /** Which model answers, or undefined when none can. */
    readonly info: ModelInfo | undefined
    /** Why no model can answer (not configured, or failed to load), when none can. */
    readonly problem?: string | undefined
    /** Streams one completion; interrupting the stream aborts the request. */
    readonly stream: (request: CompletionRequest) => Stream.Stream<ModelChunk, ModelUnavailable | ModelError>
  }
>() {
  /** A model that cannot answer, and says why on every call. */
  static readonly unavailable = (message: string) =>
    Layer.succeed(LanguageModel, { info: undefined, problem: message, stream: () => Stream.fail(new ModelUnavailable({ message })) })

  /** The model when none is configured: every call says how to configure one. */
  static readonly none = LanguageModel.unavailable(NOT_CONFIGURED)
}

/** Collects a streamed completion. */
export const collect = (
  stream: Stream.Stream<ModelChunk, ModelUnavailable | ModelError>
): Effect.Effect<Completion, ModelUnavailable | ModelError> =>
  Stream.runFold(stream, { text: "", toolCalls: [] as Array<ToolCall>, usage: { prompt_tokens: 0, completion_tokens: 0 }, finishReason: "stop" }, (acc, chunk) => {
    switch (chunk._tag) {
      case "Token":
        return { ...acc, text: acc.text + chunk.text }
      case "ToolCall":
        return { ...acc, toolCalls: [...acc.toolCalls, chunk.call] }
      case "Usage":
        return { ...acc, usage: chunk.usage }
      case "Done":
        return { ...acc, finishReason: chunk.finishReason }
    }
  })
