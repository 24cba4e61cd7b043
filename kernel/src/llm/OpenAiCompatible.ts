/**
 * An OpenAI-compatible chat endpoint (`POST {base_url}/v1/chat/completions`, streamed as SSE):
 * OpenAI, Ollama, llama.cpp server, vLLM. Text arrives as tokens; tool calls are assembled from
 * their deltas and emitted whole; usage comes from the final chunk (`stream_options`).
 *
 * A request with a response format asks for it the best way the endpoint accepts:
 * `response_format: {type: "json_schema", json_schema: {name, schema, strict}}`; an endpoint that
 * refuses that (a 4xx whose body names the response format) is asked again with
 * `{type: "json_object"}`, then with no format (the prompt alone), and what it accepted is
 * remembered for the life of the provider, so only the first structured request is refused.
 */
import { Chunk, Effect, Layer, Option, Stream } from "effect"
import {
  type CompletionRequest,
  LanguageModel,
  type ModelChunk,
  ModelError,
  type ResponseFormat,
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

/** How a response format is asked for, from the most to the least an endpoint must support. */
export type FormatMode = "json_schema" | "json_object" | "none"

const MODES: ReadonlyArray<FormatMode> = ["json_schema", "json_object", "none"]

/** The next way to ask after `mode` was refused. */
export const fallbackMode = (mode: FormatMode): FormatMode => MODES[Math.min(MODES.indexOf(mode) + 1, MODES.length - 1)]!

/** The `response_format` field of a request asking for `format` in `mode` (none in mode `none`). */
export const responseFormatField = (mode: FormatMode, format: ResponseFormat) =>
  mode === "json_schema"
    ? { response_format: { type: "json_schema", json_schema: { name: format.name, schema: format.schema, strict: true } } }
    : mode === "json_object"
    ? { response_format: { type: "json_object" } }
    : {}

/** Whether an error answer refuses the request's response format (a 4xx whose body names it), rather than failing for another reason. */
export const refusesResponseFormat = (status: number, body: string): boolean =>
  status >= 400 && status < 500 && /response_format|response format|json_schema|json_object|structured output/i.test(body)

/** What an endpoint was found to accept, for the life of its provider; it only ever goes down. */
export interface FormatMemory {
  readonly current: () => FormatMode
  /** `mode` was refused: the mode to ask with now (and from now on). */
  readonly refused: (mode: FormatMode) => FormatMode
}

export const formatMemory = (initial: FormatMode = "json_schema"): FormatMemory => {
  let supported = initial
  return {
    current: () => supported,
    refused: (mode) => {
      const next = fallbackMode(mode)
      if (MODES.indexOf(next) > MODES.indexOf(supported)) supported = next
      return supported
    }
  }
}

/** The request body, in OpenAI's wire format; a response format is asked for in `mode`. */
export const requestBody = (model: string, request: CompletionRequest, mode: FormatMode = "json_schema") => ({
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
  ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
  ...(request.responseFormat === undefined ? {} : responseFormatField(mode, request.responseFormat))
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
export const streamCompletion = (
  options: OpenAiCompatibleOptions,
  request: CompletionRequest,
  formats: FormatMemory = formatMemory()
): Stream.Stream<ModelChunk, ModelError> =>
  Stream.unwrapScoped(
    Effect.gen(function*() {
      const controller = new AbortController()
      let finished = false
      // a response read to its end needs no abort (which would only raise an AbortError nobody sees)
      yield* Effect.addFinalizer(() => Effect.sync(() => finished || controller.abort()))
      const url = completionsUrl(options.baseUrl)
      const post = (mode: FormatMode) =>
        Effect.tryPromise({
          try: () =>
            fetch(url, {
              method: "POST",
              signal: controller.signal,
              headers: {
                "content-type": "application/json",
                accept: "text/event-stream",
                ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {})
              },
              body: JSON.stringify(requestBody(options.model, request, mode))
            }),
          catch: (cause) => new ModelError({ message: `the language model at ${url} cannot be reached: ${String((cause as Error)?.cause ?? cause)}`, cause })
        })
      let mode = formats.current()
      let response = yield* post(mode)
      // refused for its response format: asked again the next way down, remembered for later requests
      while (!response.ok && request.responseFormat !== undefined && mode !== "none") {
        const text = yield* Effect.promise(() => response.text().catch(() => ""))
        if (!refusesResponseFormat(response.status, text)) {
          return yield* new ModelError({ message: `the language model at ${url} answered ${response.status}: ${text.slice(0, 500)}` })
        }
        const refused = mode
        mode = formats.refused(refused)
        yield* Effect.logWarning(`the language model at ${url} refused response_format ${refused} (${response.status}); asking with ${mode === "none" ? "the prompt alone" : mode} from now on`)
        response = yield* post(mode)
      }
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

/** The LanguageModel over an OpenAI-compatible endpoint; what response format it accepts is learnt once per layer. */
export const layer = (options: OpenAiCompatibleOptions) =>
  Layer.sync(LanguageModel, () => {
    const formats = formatMemory()
    return LanguageModel.of({
      info: { provider: "openai", model: options.model },
      stream: (request) => streamCompletion(options, request, formats)
    })
  })
