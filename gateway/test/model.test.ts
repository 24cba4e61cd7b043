/** Which language model the server uses, as /api/status reports it; a broken one never stops the server. */
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { writeTinyLlamaGguf } from "../../kernel/test/fixtures/tinyGguf.js"
import { ROOT, startServer, startServerProcess } from "./harness.js"

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

  it("loads a local GGUF in the compiled build too, compiled afresh and from V8's code cache (its import() of node-llama-cpp, an ES module, from the CommonJS bundle)", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "annal-model-")), "tiny.gguf")
    writeTinyLlamaGguf(path, { seed: 3 })
    const cache = join(ROOT, "gateway", "dist", "annal.cjs.cache")
    const llmOf = async (args: ReadonlyArray<string>) => {
      const server = await startServerProcess({ args, env: { ANNAL_MODEL_PATH: "", ANNAL_LLM_BASE_URL: "" } })
      try {
        expect(server.output()).not.toContain("Warning")
        return (await server.json("/api/status")).body.components.llm
      } finally {
        // (a server that loaded a model ends by the signal rather than with 0: node-llama-cpp's exit hooks)
        await server.stop()
      }
    }
    const loaded = { configured: true, provider: "llama", model: "tiny.gguf", detail: null }
    // a start with no usable cache writes one as it exits cleanly; the next compiles from it
    rmSync(cache, { force: true })
    expect(await llmOf([])).toMatchObject({ configured: false })
    expect(existsSync(cache)).toBe(true)
    expect(await llmOf(["--model", path])).toEqual(loaded)
    rmSync(cache, { force: true })
    expect(await llmOf(["--model", path])).toEqual(loaded)
  }, 120_000)

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
