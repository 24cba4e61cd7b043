import { ModelSettings } from "@annal/kernel"
import { defaultConfig } from "@annal/spec"
import { describe, expect, it } from "vitest"

const config = defaultConfig.llm

describe("choosing the language model", () => {
  it("is none with nothing configured", () => {
    expect(ModelSettings.resolveModel({ env: {}, config })).toEqual({ provider: "none" })
  })

  it("takes --model over ANNAL_MODEL_PATH over the endpoint over the configuration", () => {
    const env = { ANNAL_MODEL_PATH: "/env.gguf", ANNAL_LLM_BASE_URL: "http://127.0.0.1:11434", ANNAL_LLM_MODEL: "llama3" }
    expect(ModelSettings.resolveModel({ modelPath: "/flag.gguf", env, config })).toMatchObject({ provider: "llama", modelPath: "/flag.gguf", source: "--model", threads: 1 })
    expect(ModelSettings.resolveModel({ env, config })).toMatchObject({ provider: "llama", modelPath: "/env.gguf", source: "ANNAL_MODEL_PATH" })
    const { ANNAL_MODEL_PATH: _, ...http } = env
    expect(ModelSettings.resolveModel({ env: { ...http, ANNAL_LLM_API_KEY: "sk-1" }, config })).toEqual({
      provider: "openai",
      baseUrl: "http://127.0.0.1:11434",
      model: "llama3",
      apiKey: "sk-1",
      source: "ANNAL_LLM_BASE_URL"
    })
    const configured = { ...config, provider: "openai" as const, base_url: "http://10.0.0.5:8000", model: "qwen", api_key_env: "MY_KEY" }
    expect(ModelSettings.resolveModel({ env: { MY_KEY: "k" }, config: configured })).toEqual({
      provider: "openai",
      baseUrl: "http://10.0.0.5:8000",
      model: "qwen",
      apiKey: "k",
      source: "config"
    })
  })

  it("ignores blank values", () => {
    expect(ModelSettings.resolveModel({ modelPath: " ", env: { ANNAL_MODEL_PATH: "", ANNAL_LLM_BASE_URL: "  " }, config })).toEqual({ provider: "none" })
  })
})
