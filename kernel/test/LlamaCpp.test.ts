import { describe, expect, it } from "@effect/vitest"
import { collect, LanguageModel, LlamaCpp } from "@annal/kernel"
import { Chunk, Effect, Fiber, Stream } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { writeTinyLlamaGguf } from "./fixtures/tinyGguf.js"

const modelFile = () => {
  const path = join(mkdtempSync(join(tmpdir(), "annal-gguf-")), "tiny.gguf")
  writeTinyLlamaGguf(path, { seed: 7 })
  return path
}

describe("node-llama-cpp provider (a real tiny GGUF the test writes)", () => {
  it.live("loads the model and streams tokens with usage", () =>
    Effect.gen(function*() {
      const model = yield* LanguageModel
      expect(model.info).toEqual({ provider: "llama", model: "tiny.gguf" })
      const chunks = Chunk.toReadonlyArray(
        yield* Stream.runCollect(model.stream({ messages: [{ role: "user", content: "hello" }], maxTokens: 8, temperature: 0 }))
      )
      const tokens = chunks.filter((c) => c._tag === "Token")
      expect(tokens.length).toBeGreaterThan(0)
      const usage = chunks.find((c) => c._tag === "Usage")
      expect(usage).toBeDefined()
      if (usage?._tag === "Usage") {
        expect(usage.usage.prompt_tokens).toBeGreaterThan(0)
        expect(usage.usage.completion_tokens).toBeGreaterThan(0)
        expect(usage.usage.completion_tokens).toBeLessThanOrEqual(8)
      }
      expect(chunks.at(-1)).toMatchObject({ _tag: "Done" })
      // a second request on the same loaded model works too
      const again = yield* collect(model.stream({ messages: [{ role: "user", content: "again" }], maxTokens: 4, temperature: 0 }))
      expect(again.usage.completion_tokens).toBeGreaterThan(0)
    }).pipe(Effect.provide(LlamaCpp.layer({ modelPath: modelFile(), contextSize: 256, threads: 1 }))), 60_000)

  it.live("interrupting a generation aborts it and frees the model for the next", () =>
    Effect.gen(function*() {
      const model = yield* LanguageModel
      const seen: Array<string> = []
      const fiber = yield* model.stream({ messages: [{ role: "user", content: "go on" }], maxTokens: 100_000 }).pipe(
        Stream.tap((c) => Effect.sync(() => c._tag === "Token" && seen.push(c.text))),
        Stream.runDrain,
        Effect.fork
      )
      yield* Effect.sleep("300 millis")
      yield* Fiber.interrupt(fiber)
      const during = seen.length
      yield* Effect.sleep("200 millis")
      expect(seen.length).toBe(during)
      const next = yield* collect(model.stream({ messages: [{ role: "user", content: "next" }], maxTokens: 3 })).pipe(Effect.timeout("20 seconds"))
      expect(next.usage.completion_tokens).toBeGreaterThan(0)
    }).pipe(Effect.provide(LlamaCpp.layer({ modelPath: modelFile(), contextSize: 256, threads: 1 }))), 60_000)

  it.effect("a missing model file is ModelUnavailable", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.provide(LanguageModel, LlamaCpp.layer({ modelPath: "/nonexistent/model.gguf" })))
      expect(error._tag).toBe("ModelUnavailable")
      expect(error.message).toContain("/nonexistent/model.gguf")
    }))
})
