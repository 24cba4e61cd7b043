/**
 * Embeddings from an OpenAI-compatible endpoint (OpenAI, Ollama, llama.cpp server, vLLM):
 * `POST {base_url}/v1/embeddings` with `{model, input: [texts]}`, in batches. The API key is
 * read from the environment variable the configuration names, never from the log.
 */
import { Effect, Either, Schema } from "effect"
import { Unavailable } from "../shared/errors.js"
import type { Embedder, EmbeddingSettings } from "./Embedder.js"

const REQUEST_TIMEOUT_MS = 60_000

const EmbeddingsResponse = Schema.Struct({
  data: Schema.Array(Schema.Struct({ index: Schema.Int, embedding: Schema.Array(Schema.Number) }))
})

/** `{base_url}/v1/embeddings`; a base URL that already ends in `/v1` is not doubled. */
export const embeddingsUrl = (baseUrl: string): string => {
  const base = baseUrl.replace(/\/+$/, "")
  return base.endsWith("/v1") ? `${base}/embeddings` : `${base}/v1/embeddings`
}

export interface OpenAiEmbedderOptions {
  readonly baseUrl: string
  readonly model: string
  readonly apiKey?: string | undefined
  readonly batchSize: number
}

/** The options of the configured provider, the key taken from `env`. */
export const openAiOptions = (settings: EmbeddingSettings, env: NodeJS.ProcessEnv = process.env): OpenAiEmbedderOptions => {
  const key = settings.api_key_env === null ? undefined : env[settings.api_key_env]
  return {
    baseUrl: settings.base_url ?? "",
    model: settings.model ?? "",
    apiKey: key === undefined || key === "" ? undefined : key,
    batchSize: settings.batch_size
  }
}

/** Asks the endpoint once for the vector length, then embeds in batches. */
export const makeOpenAiEmbedder = (options: OpenAiEmbedderOptions): Effect.Effect<Embedder, Unavailable> =>
  Effect.gen(function*() {
    const url = embeddingsUrl(options.baseUrl)
    const unavailable = (why: string) => new Unavailable({ message: `the embedding endpoint ${url} ${why}` })

    const request = (input: ReadonlyArray<string>): Effect.Effect<Array<Float32Array>, Unavailable> =>
      Effect.gen(function*() {
        const response = yield* Effect.tryPromise({
          try: (signal) =>
            fetch(url, {
              method: "POST",
              headers: {
                "content-type": "application/json",
                ...(options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` })
              },
              body: JSON.stringify({ model: options.model, input, encoding_format: "float" }),
              signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)])
            }),
          catch: (e) => unavailable(`is unreachable: ${e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e)}`)
        })
        const text = yield* Effect.tryPromise({ try: () => response.text(), catch: () => unavailable("closed the connection mid-answer") })
        if (!response.ok) return yield* unavailable(`answered ${response.status}: ${text.slice(0, 300)}`)
        const decoded = Either.flatMap(
          Either.try(() => JSON.parse(text) as unknown),
          (json) => Schema.decodeUnknownEither(EmbeddingsResponse)(json)
        )
        if (Either.isLeft(decoded)) return yield* unavailable("answered something other than an embeddings list")
        const data = [...decoded.right.data].sort((a, b) => a.index - b.index)
        if (data.length !== input.length || data.some((d, i) => d.index !== i)) {
          return yield* unavailable(`answered ${data.length} embeddings for ${input.length} inputs`)
        }
        return data.map((d) => Float32Array.from(d.embedding))
      })

    const [probe] = yield* request(["dimension probe"])
    const dimension = probe?.length ?? 0
    if (dimension === 0) return yield* unavailable("answered an empty embedding")

    return {
      provider: "openai",
      fingerprint: `openai/${url}/${options.model}/d${dimension}`,
      dimension,
      embed: (texts) =>
        Effect.gen(function*() {
          const out: Array<Float32Array> = []
          for (let i = 0; i < texts.length; i += options.batchSize) {
            const vectors = yield* request(texts.slice(i, i + options.batchSize))
            for (const v of vectors) {
              if (v.length !== dimension) return yield* unavailable(`changed its vector length from ${dimension} to ${v.length}`)
              out.push(v)
            }
          }
          return out
        }),
      close: Effect.void
    } satisfies Embedder
  })
