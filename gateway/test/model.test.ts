/** Which language model the server uses, as /api/status reports it; a broken one never stops the server. */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { writeTinyLlamaGguf } from "../../kernel/test/fixtures/tinyGguf.js"
import { startServer } from "./harness.js"

const llmStatus = async (env: Record<string, string>, args: ReadonlyArray<string> = []) => {
  const server = await startServer({ env, args })
  try {
    return (await server.json("/api/status")).body.components.llm
  } finally {
    await server.stop()
  }
}

describe("the language model in /api/status", () => {
  it("says none is configured and how to configure one", async () => {
    const llm = await llmStatus({ ANNAL_MODEL_PATH: "", ANNAL_LLM_BASE_URL: "" })
    expect(llm).toMatchObject({ configured: false, provider: null, model: null })
    expect(llm.detail).toContain("--model")
    expect(llm.detail).toContain("ANNAL_LLM_BASE_URL")
  })

  it("loads a local GGUF given with --model", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "annal-model-")), "tiny.gguf")
    writeTinyLlamaGguf(path, { seed: 3 })
    expect(await llmStatus({ ANNAL_MODEL_PATH: "", ANNAL_LLM_BASE_URL: "" }, ["--model", path])).toEqual({
      configured: true,
      provider: "llama",
      model: "tiny.gguf",
      detail: null
    })
  }, 60_000)

  it("uses an OpenAI-compatible endpoint from the environment", async () => {
    expect(await llmStatus({ ANNAL_MODEL_PATH: "", ANNAL_LLM_BASE_URL: "http://127.0.0.1:9/v1", ANNAL_LLM_MODEL: "qwen2.5" })).toEqual({
      configured: true,
      provider: "openai",
      model: "qwen2.5",
      detail: null
    })
  })

  it("still starts when the model cannot be loaded, and says why", async () => {
    const llm = await llmStatus({ ANNAL_MODEL_PATH: "/nonexistent/model.gguf", ANNAL_LLM_BASE_URL: "" })
    expect(llm).toMatchObject({ configured: false, provider: null })
    expect(llm.detail).toContain("/nonexistent/model.gguf")
  })
})
