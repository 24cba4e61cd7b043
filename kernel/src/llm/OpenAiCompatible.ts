/**
 * An OpenAI-compatible chat endpoint (`POST {base_url}/v1/chat/completions`, streamed as SSE):
 * OpenAI, Ollama, llama.cpp server, vLLM. Text arrives as tokens; tool calls are assembled from
 * their deltas and emitted whole; usage comes from the final chunk (`stream_options`).
 */
import { Chunk, Effect, Layer, Option, Stream } from "effect"
import {
  type CompletionRequest,
  LanguageModel,
  type ModelChunk,
  ModelError,
  ModelUnavailable,
  type ToolCall
} from "./LanguageModel.js"

export interface OpenAiCompatibleOptions {
  /** e.g. `http://127.0.0.1:11434` (Ollama) or `https://api.openai.com`; `/v1` is appended when missing. */
  readonly baseUrl: string
  readonly model: string
  readonly apiKey?: string | undefined
}

/** The chat completions URL for a base URL, with or without a trailing `/v1`. */
export const completionsUrl = (baseUrl: string) => {
  const base = baseUrl.replace(/\/+$/, "")
  return `${base.endsWith("/v1") ? base : `${base}/v1`}/chat/completions`
}

/** The request body, in OpenAI's wire format. */
export const requestBody = (model: string, request: CompletionRequest) => ({
  model,
  stream: true,
  stream_options: { include_usage: true },
  messages: request.messages.map((m) => ({
    role: m.role,
    content: m.content,
    ...(m.tool_calls && m.tool_calls.length > 0
      ? { tool_calls: m.tool_calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })) }
      : {}),
    ...(m.tool_call_id === undefined ? {} : { tool_call_id: m.tool_call_id })
  })),
  ...(request.tools && request.tools.length > 0
    ? { tools: request.tools.map((t) => ({ type: "function", function: { name: t.name, description: t.description, parameters: t.parameters } })) }
    : {}),
  ...(request.maxTokens === undefined ? {} : { max_tokens: request.maxTokens }),
  ...(request.temperature === undefined ? {} : { temperature: request.temperature })
})

interface PartialCall {
  id: string
  name: string
  arguments: string
}

/** Folds the SSE `data:` payloads of one completion into chunks (pure; exported for tests). */
export const decoder = () => {
  const calls = new Map<number, PartialCall>()
  let finished = false
  const flushCalls = (): Array<ModelChunk> => {
    const out = [...calls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([i, c]): ModelChunk => ({ _tag: "ToolCall", call: { id: c.id === "" ? `call_${i}` : c.id, name: c.name, arguments: c.arguments || "{}" } satisfies ToolCall }))
    calls.clear()
    return out
  }
  return {
    /** The chunks one `data:` payload yields. */
    push: (data: string): Array<ModelChunk> => {
      if (data === "[DONE]") return finished ? [] : [...flushCalls(), { _tag: "Done", finishReason: "stop" }]
      const json = JSON.parse(data) as {
        choices?: Array<{ delta?: { content?: string | null; tool_calls?: Array<{ index?: number; id?: string; function?: { name?: string; arguments?: string } }> }; finish_reason?: string | null }>
        usage?: { prompt_tokens?: number; completion_tokens?: number } | null
        error?: { message?: string }
      }
      if (json.error !== undefined) throw new Error(json.error.message ?? "the model returned an error")
      const out: Array<ModelChunk> = []
      for (const choice of json.choices ?? []) {
        const delta = choice.delta
        if (delta?.content) out.push({ _tag: "Token", text: delta.content })
        for (const tc of delta?.tool_calls ?? []) {
          const index = tc.index ?? 0
          const call = calls.get(index) ?? { id: "", name: "", arguments: "" }
          if (tc.id) call.id = tc.id
          if (tc.function?.name) call.name += tc.function.name
          if (tc.function?.arguments) call.arguments += tc.function.arguments
          calls.set(index, call)
        }
        if (choice.finish_reason) {
          out.push(...flushCalls(), { _tag: "Done", finishReason: choice.finish_reason })
          finished = true
        }
      }
      if (json.usage) {
        out.push({ _tag: "Usage", usage: { prompt_tokens: json.usage.prompt_tokens ?? 0, completion_tokens: json.usage.completion_tokens ?? 0 } })
      }
      return out
    }
  }
}

/**
 * Streams one completion from the endpoint; interrupting aborts the HTTP request. One step per
 * network read: its bytes are decoded, split into lines and the `data:` payloads folded into
 * chunks at once (a pipeline of stream stages per line cost more than the HTTP exchange itself).
 */
export const streamCompletion = (options: OpenAiCompatibleOptions, request: CompletionRequest): Stream.Stream<ModelChunk, ModelUnavailable | ModelError> =>
  Stream.unwrapScoped(
    Effect.gen(function*() {
      const controller = new AbortController()
      let finished = false
      // a response read to its end needs no abort (which would only raise an AbortError nobody sees)
      yield* Effect.addFinalizer(() => Effect.sync(() => finished || controller.abort()))
      const url = completionsUrl(options.baseUrl)
      const response = yield* Effect.tryPromise({
        try: () =>
          fetch(url, {
            method: "POST",
            signal: controller.signal,
            headers: {
              "content-type": "application/json",
              accept: "text/event-stream",
              ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {})
            },
            body: JSON.stringify(requestBody(options.model, request))
          }),
        catch: (cause) => new ModelUnavailable({ message: `the language model at ${url} cannot be reached: ${String((cause as Error)?.cause ?? cause)}` })
      })
      if (!response.ok || response.body === null) {
        const text = yield* Effect.promise(() => response.text().catch(() => ""))
        return yield* new ModelError({ message: `the language model at ${url} answered ${response.status}: ${text.slice(0, 500)}` })
      }
      const decode = decoder()
      const reader = response.body.getReader()
      const text = new TextDecoder()
      let partial = ""
      const read = Effect.tryPromise({ try: () => reader.read(), catch: (cause) => new ModelError({ message: "the model's stream broke off", cause }) })
      const next = Effect.flatMap(Effect.mapError(read, Option.some), ({ done, value }) => {
        const lines = (partial + (done ? text.decode() : text.decode(value, { stream: true }))).split(/\r\n|\r|\n/)
        // the last line is complete only at the end of the body
        partial = done ? "" : lines.pop()!
        finished = done
        const out: Array<ModelChunk> = []
        try {
          for (const line of lines) if (line.startsWith("data:")) out.push(...decode.push(line.slice(5).trim()))
        } catch (cause) {
          return Effect.fail(Option.some(new ModelError({ message: `malformed chunk from the model: ${String(cause)}`, cause })))
        }
        return done && out.length === 0 ? Effect.fail(Option.none()) : Effect.succeed(Chunk.unsafeFromArray(out))
      })
      return Stream.repeatEffectChunkOption(next)
    })
  )

/** The LanguageModel over an OpenAI-compatible endpoint. */
export const layer = (options: OpenAiCompatibleOptions) =>
  Layer.succeed(LanguageModel, {
    info: { provider: "openai", model: options.model },
    stream: (request) => streamCompletion(options, request)
  })
