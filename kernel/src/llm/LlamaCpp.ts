/**
 * A local GGUF model through node-llama-cpp: loaded once (CPU build shipped with the package,
 * nothing downloaded or compiled at run time), one generation at a time on its context.
 */
import { Chunk, Effect, Layer, Stream } from "effect"
import { existsSync } from "node:fs"
import type { ChatHistoryItem, ChatModelFunctionCall, ChatModelFunctions, Llama, LlamaChat, LlamaContext, LlamaGrammar, LlamaModel } from "node-llama-cpp"
import {
  type ChatMessage,
  type CompletionRequest,
  LanguageModel,
  type ModelChunk,
  ModelError,
  ModelUnavailable,
  type ResponseFormat,
  type ToolSpec
} from "./LanguageModel.js"

export interface LlamaCppOptions {
  readonly modelPath: string
  /** Tokens of context; "auto" fits the model and the machine. */
  readonly contextSize?: number | "auto" | undefined
  /** CPU threads; 1 is fastest for small models on a 2-core machine. */
  readonly threads?: number | undefined
}

/** The chat history node-llama-cpp expects, ending with the model response to generate. */
export const toHistory = (messages: ReadonlyArray<ChatMessage>): Array<ChatHistoryItem> => {
  const history: Array<ChatHistoryItem> = []
  const results = new Map(messages.filter((m) => m.role === "tool").map((m) => [m.tool_call_id ?? "", m.content]))
  for (const m of messages) {
    if (m.role === "system") history.push({ type: "system", text: m.content })
    else if (m.role === "user") history.push({ type: "user", text: m.content })
    else if (m.role === "assistant") {
      const calls = (m.tool_calls ?? []).map((c): ChatModelFunctionCall => ({
        type: "functionCall",
        name: c.name,
        params: safeJson(c.arguments),
        result: results.get(c.id) ?? null
      }))
      history.push({ type: "model", response: [...(m.content === "" ? [] : [m.content]), ...calls] })
    }
  }
  const last = history[history.length - 1]
  // a model response whose tool calls have results is continued; otherwise a new one starts
  if (last === undefined || last.type !== "model") history.push({ type: "model", response: [] })
  return history
}

const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return {}
  }
}

const toFunctions = (tools: ReadonlyArray<ToolSpec>): ChatModelFunctions =>
  Object.fromEntries(tools.map((t) => [t.name, { description: t.description, params: t.parameters as never }]))

/** The LanguageModel over a local GGUF file, loaded when the layer is built. */
export const layer = (options: LlamaCppOptions) =>
  Layer.scoped(
    LanguageModel,
    Effect.gen(function*() {
      if (!existsSync(options.modelPath)) {
        return yield* new ModelUnavailable({ message: `no model file at ${options.modelPath}` })
      }
      const { getLlama, LlamaChat: Chat } = yield* Effect.promise(() => import("node-llama-cpp"))
      const loaded = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: async () => {
            const llama: Llama = await getLlama({ gpu: false, build: "never", logLevel: "error" as never, progressLogs: false })
            const model: LlamaModel = await llama.loadModel({ modelPath: options.modelPath })
            const context: LlamaContext = await model.createContext({
              contextSize: options.contextSize ?? "auto",
              threads: options.threads ?? 1
            })
            const sequence = context.getSequence()
            const chat: LlamaChat = new Chat({ contextSequence: sequence, autoDisposeSequence: false })
            return { llama, model, context, sequence, chat }
          },
          catch: (cause) => new ModelUnavailable({ message: `could not load the model ${options.modelPath}: ${String((cause as Error)?.message ?? cause)}` })
        }),
        (l) =>
          Effect.tryPromise(async () => {
            l.chat.dispose()
            await l.context.dispose()
            await l.model.dispose()
            await l.llama.dispose()
          }).pipe(Effect.ignore)
      )
      const lock = yield* Effect.makeSemaphore(1)
      const name = options.modelPath.split("/").pop() ?? options.modelPath
      // a grammar is compiled once per response format
      const grammars = new Map<string, Promise<LlamaGrammar>>()
      const grammarOf = (format: ResponseFormat) => {
        let grammar = grammars.get(format.name)
        if (grammar === undefined) {
          grammar = loaded.llama.createGrammarForJsonSchema(format.schema as never) as Promise<LlamaGrammar>
          grammars.set(format.name, grammar)
        }
        return grammar
      }

      const generate = (request: CompletionRequest): Stream.Stream<ModelChunk, ModelError> =>
        Stream.asyncScoped<ModelChunk, ModelError>((emit) =>
          Effect.gen(function*() {
            const controller = new AbortController()
            yield* Effect.addFinalizer(() => Effect.sync(() => controller.abort()))
            const meter = loaded.sequence.tokenMeter
            const inputBefore = meter.usedInputTokens
            const outputBefore = meter.usedOutputTokens
            const tools = request.tools ?? []
            yield* Effect.forkScoped(
              Effect.tryPromise({
                try: async () => {
                  const common = {
                    signal: controller.signal,
                    stopOnAbortSignal: true,
                    ...(request.maxTokens === undefined ? {} : { maxTokens: request.maxTokens }),
                    ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
                    onTextChunk: (text: string) => {
                      if (text !== "") void emit.single({ _tag: "Token", text })
                    }
                  }
                  const history = toHistory(request.messages)
                  // a response format constrains sampling to its JSON schema (no tools are offered then)
                  if (request.responseFormat !== undefined) {
                    return loaded.chat.generateResponse(history, { ...common, grammar: await grammarOf(request.responseFormat) })
                  }
                  return loaded.chat.generateResponse(history, { ...common, ...(tools.length === 0 ? {} : { functions: toFunctions(tools) }) })
                },
                catch: (cause) => new ModelError({ message: `the model failed: ${String((cause as Error)?.message ?? cause)}`, cause })
              }).pipe(
                Effect.flatMap((response) =>
                  Effect.promise(() =>
                    emit.chunk(
                      Chunk.unsafeFromArray<ModelChunk>([
                        ...(response.functionCalls ?? []).map((c, i): ModelChunk => ({
                          _tag: "ToolCall",
                          call: { id: `call_${i}`, name: String(c.functionName), arguments: JSON.stringify(c.params ?? {}) }
                        })),
                        {
                          _tag: "Usage",
                          usage: { prompt_tokens: meter.usedInputTokens - inputBefore, completion_tokens: meter.usedOutputTokens - outputBefore }
                        },
                        { _tag: "Done", finishReason: response.metadata.stopReason === "functionCalls" ? "tool_calls" : response.metadata.stopReason === "maxTokens" ? "length" : "stop" }
                      ])
                    )
                  )
                ),
                Effect.matchCauseEffect({
                  onFailure: (cause) => Effect.promise(() => emit.halt(cause)),
                  onSuccess: () => Effect.promise(() => emit.end())
                })
              )
            )
          })
        )

      return LanguageModel.of({
        info: { provider: "llama", model: name },
        // one generation at a time: the context has one sequence
        stream: (request) => Stream.unwrapScoped(Effect.as(lock.take(1).pipe(Effect.zipRight(Effect.addFinalizer(() => lock.release(1)))), generate(request)))
      })
    })
  )
