/**
 * Embedders turn texts into vectors for the semantic index. One interface, three providers:
 * the built-in lexical embedder (offline, deterministic, the default), a local GGUF model
 * through node-llama-cpp, and an OpenAI-compatible `/v1/embeddings` endpoint.
 */
import type { MemoryConfig } from "@annal/spec"
import { Effect } from "effect"
import { Unavailable } from "../shared/errors.js"
import { makeLexicalEmbedder } from "./LexicalEmbedder.js"
import { makeLlamaEmbedder } from "./LlamaEmbedder.js"
import { makeOpenAiEmbedder, openAiOptions } from "./OpenAiEmbedder.js"

export type EmbeddingSettings = MemoryConfig["embedding"]

export interface Embedder {
  readonly provider: EmbeddingSettings["provider"]
  /**
   * Names the vector space: two embedders with the same fingerprint give the same vector for
   * the same text. An index built under another fingerprint is rebuilt.
   */
  readonly fingerprint: string
  readonly dimension: number
  /** One vector per text, in order. A provider that cannot answer fails with Unavailable. */
  readonly embed: (texts: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<Float32Array>, Unavailable>
  /** Releases what the provider holds (a loaded model). */
  readonly close: Effect.Effect<void>
}

/** The embedder the settings configure; a provider that cannot start fails with Unavailable. */
export const makeEmbedder = (settings: EmbeddingSettings, env: NodeJS.ProcessEnv = process.env): Effect.Effect<Embedder, Unavailable> => {
  switch (settings.provider) {
    case "lexical":
      return Effect.succeed(makeLexicalEmbedder(settings.dimension))
    case "llama":
      return settings.model_path === null
        ? Effect.fail(new Unavailable({ message: "the llama embedding provider needs memory.embedding.model_path" }))
        : makeLlamaEmbedder(settings.model_path)
    case "openai":
      return settings.base_url === null || settings.model === null
        ? Effect.fail(new Unavailable({ message: "the openai embedding provider needs memory.embedding.base_url and model" }))
        : makeOpenAiEmbedder(openAiOptions(settings, env))
  }
}
