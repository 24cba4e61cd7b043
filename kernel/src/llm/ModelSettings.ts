/**
 * Which language model answers: the flag `--model PATH` or `ANNAL_MODEL_PATH` (a local GGUF),
 * else `ANNAL_LLM_BASE_URL` + `ANNAL_LLM_MODEL` (an OpenAI-compatible endpoint), else the `llm`
 * section of the configuration, else none.
 */
import type { LlmConfig } from "@annal/spec"
import { Effect, Layer } from "effect"
import { LanguageModel, NOT_CONFIGURED } from "./LanguageModel.js"
import * as LlamaCpp from "./LlamaCpp.js"
import * as OpenAiCompatible from "./OpenAiCompatible.js"

export type ModelSettings =
  | { readonly provider: "none" }
  | { readonly provider: "llama"; readonly modelPath: string; readonly contextSize: number | undefined; readonly threads: number; readonly source: string }
  | { readonly provider: "openai"; readonly baseUrl: string; readonly model: string; readonly apiKey: string | undefined; readonly source: string }

const nonEmpty = (s: string | undefined) => (s === undefined || s.trim() === "" ? undefined : s.trim())

/** Resolves the model from the flag, the environment and the configuration (pure). */
export const resolveModel = (
  input: { readonly modelPath?: string | undefined; readonly env: Readonly<Record<string, string | undefined>>; readonly config: LlmConfig }
): ModelSettings => {
  const { config, env } = input
  const path = nonEmpty(input.modelPath) ?? nonEmpty(env.ANNAL_MODEL_PATH)
  if (path !== undefined) {
    return { provider: "llama", modelPath: path, contextSize: config.context_size ?? undefined, threads: config.threads, source: nonEmpty(input.modelPath) ? "--model" : "ANNAL_MODEL_PATH" }
  }
  const baseUrl = nonEmpty(env.ANNAL_LLM_BASE_URL)
  if (baseUrl !== undefined) {
    return {
      provider: "openai",
      baseUrl,
      model: nonEmpty(env.ANNAL_LLM_MODEL) ?? config.model ?? "default",
      apiKey: nonEmpty(env.ANNAL_LLM_API_KEY) ?? nonEmpty(env[config.api_key_env]),
      source: "ANNAL_LLM_BASE_URL"
    }
  }
  if (config.provider === "llama" && config.model_path !== null) {
    return { provider: "llama", modelPath: config.model_path, contextSize: config.context_size ?? undefined, threads: config.threads, source: "config" }
  }
  if (config.provider === "openai" && config.base_url !== null && config.model !== null) {
    return { provider: "openai", baseUrl: config.base_url, model: config.model, apiKey: nonEmpty(env[config.api_key_env]), source: "config" }
  }
  return { provider: "none" }
}

/**
 * The LanguageModel for resolved settings. A model that cannot be loaded does not stop the
 * server: every call then fails with the reason, and everything else keeps working.
 */
export const layer = (settings: ModelSettings): Layer.Layer<LanguageModel> => {
  switch (settings.provider) {
    case "none":
      return LanguageModel.unavailable(NOT_CONFIGURED)
    case "openai":
      return OpenAiCompatible.layer({ baseUrl: settings.baseUrl, model: settings.model, apiKey: settings.apiKey })
    case "llama":
      return LlamaCpp.layer({ modelPath: settings.modelPath, contextSize: settings.contextSize, threads: settings.threads }).pipe(
        Layer.catchAll((e) =>
          Layer.unwrapEffect(Effect.as(Effect.logError(`language model unavailable: ${e.message}`), LanguageModel.unavailable(e.message)))
        )
      )
  }
}
