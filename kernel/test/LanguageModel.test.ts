import { describe, expect, it } from "@effect/vitest"
import { collect, LanguageModel, OpenAiCompatible } from "@annal/kernel"
import { Chunk, Effect, Fiber, Stream } from "effect"
import { type ScriptedReply, startFakeOpenAi } from "./fixtures/fakeOpenAi.js"

const ask = (content: string) => ({ messages: [{ role: "user" as const, content }] })

/** A fake endpoint for the scope, and the model over it. */
const withFake = (script: Array<ScriptedReply>) =>
  Effect.gen(function*() {
    const fake = yield* Effect.acquireRelease(Effect.promise(() => startFakeOpenAi(script)), (f) => Effect.promise(() => f.close()))
    const model = yield* Effect.provide(LanguageModel, OpenAiCompatible.layer({ baseUrl: fake.url, model: "fake-model", apiKey: "sk-test" }))
    return { fake, model }
  })

describe("LanguageModel", () => {
  it.effect("with no model configured, fails saying how to configure one", () =>
    Effect.gen(function*() {
      const model = yield* LanguageModel
      expect(model.info).toBeUndefined()
      const error = yield* Effect.flip(collect(model.stream(ask("hi"))))
      expect(error._tag).toBe("ModelUnavailable")
      expect(error.message).toContain("ANNAL_LLM_BASE_URL")
      expect(error.message).toContain("--model")
    }).pipe(Effect.provide(LanguageModel.none)))

  describe("OpenAI-compatible provider", () => {
    it.live("streams tokens, assembles tool calls from their deltas, and reports usage", () =>
      Effect.gen(function*() {
        const { fake, model } = yield* withFake([
          { text: "Hello there, friend.", usage: { prompt_tokens: 12, completion_tokens: 4 } },
          { toolCalls: [{ name: "read", arguments: { path: "notes/a.md" } }, { name: "ls", arguments: {} }] }
        ])
        expect(model.info).toEqual({ provider: "openai", model: "fake-model" })
        const chunks = Chunk.toReadonlyArray(yield* Stream.runCollect(model.stream(ask("say hello"))))
        const tokens = chunks.flatMap((c) => (c._tag === "Token" ? [c.text] : []))
        expect(tokens).toEqual(["Hello ", "there, ", "friend."])
        expect(chunks.at(-1)).toEqual({ _tag: "Usage", usage: { prompt_tokens: 12, completion_tokens: 4 } })
        const second = yield* collect(
          model.stream({
            messages: [{ role: "user", content: "look" }],
            tools: [{ name: "read", description: "read a file", parameters: { type: "object", properties: { path: { type: "string" } } } }]
          })
        )
        expect(second.toolCalls.map((c) => [c.name, JSON.parse(c.arguments)])).toEqual([["read", { path: "notes/a.md" }], ["ls", {}]])
        expect(second.finishReason).toBe("tool_calls")
        // what the endpoint received is OpenAI's wire format
        expect(fake.requests[0]).toMatchObject({ model: "fake-model", stream: true, messages: [{ role: "user", content: "say hello" }] })
        expect(fake.requests[1].tools[0]).toEqual({
          type: "function",
          function: { name: "read", description: "read a file", parameters: { type: "object", properties: { path: { type: "string" } } } }
        })
      }).pipe(Effect.scoped))

    it.live("sends tool results back in the wire format", () =>
      Effect.gen(function*() {
        const { fake, model } = yield* withFake([{ text: "done" }])
        yield* collect(
          model.stream({
            messages: [
              { role: "user", content: "read it" },
              { role: "assistant", content: "", tool_calls: [{ id: "c1", name: "read", arguments: "{\"path\":\"a\"}" }] },
              { role: "tool", content: "contents", tool_call_id: "c1" }
            ]
          })
        )
        expect(fake.requests[0].messages.slice(1)).toEqual([
          { role: "assistant", content: "", tool_calls: [{ id: "c1", type: "function", function: { name: "read", arguments: "{\"path\":\"a\"}" } }] },
          { role: "tool", content: "contents", tool_call_id: "c1" }
        ])
      }).pipe(Effect.scoped))

    it.live("an HTTP error is a ModelError naming the status; an unreachable endpoint is ModelUnavailable", () =>
      Effect.gen(function*() {
        const { model } = yield* withFake([{ status: 429 }])
        const error = yield* Effect.flip(collect(model.stream(ask("x"))))
        expect(error._tag).toBe("ModelError")
        expect(error.message).toContain("429")
        const nowhere = yield* Effect.provide(LanguageModel, OpenAiCompatible.layer({ baseUrl: "http://127.0.0.1:9", model: "m" }))
        const down = yield* Effect.flip(collect(nowhere.stream(ask("x"))))
        expect(down._tag).toBe("ModelUnavailable")
        expect(down.message).toContain("cannot be reached")
      }).pipe(Effect.scoped))

    it.live("interrupting the stream aborts the HTTP request", () =>
      Effect.gen(function*() {
        const { fake, model } = yield* withFake([{ text: "one two three four five six seven eight nine ten", delayMs: 200 }])
        const fiber = yield* Stream.runDrain(model.stream(ask("slow"))).pipe(Effect.fork)
        yield* Effect.sleep("300 millis")
        yield* Fiber.interrupt(fiber)
        yield* Effect.sleep("200 millis")
        expect(fake.aborted()).toBe(1)
      }).pipe(Effect.scoped))
  })
})
