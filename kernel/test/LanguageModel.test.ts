import { describe, expect, it } from "@effect/vitest"
import { collect, LanguageModel, OpenAiCompatible } from "@annal/kernel"
import { Chunk, Effect, Fiber, Stream } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
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

    it.live("an HTTP error is a ModelError naming the status; an unreachable endpoint is a ModelError naming it", () =>
      Effect.gen(function*() {
        const { model } = yield* withFake([{ status: 429 }])
        const error = yield* Effect.flip(collect(model.stream(ask("x"))))
        expect(error._tag).toBe("ModelError")
        expect(error.message).toContain("429")
        const nowhere = yield* Effect.provide(LanguageModel, OpenAiCompatible.layer({ baseUrl: "http://127.0.0.1:9", model: "m" }))
        const down = yield* Effect.flip(collect(nowhere.stream(ask("x"))))
        expect(down._tag).toBe("ModelError")
        expect(down.message).toContain("the language model at http://127.0.0.1:9/v1/chat/completions cannot be reached")
      }).pipe(Effect.scoped))

    it.live("asks for json_schema; an endpoint that refuses it is asked with json_object, once for the provider's life", () =>
      Effect.gen(function*() {
        const fake = yield* Effect.acquireRelease(
          Effect.promise(() => startFakeOpenAi([{ text: "{\"a\": 1}" }, { text: "{\"a\": 2}" }, { text: "plain" }], { accepts: ["json_object"] })),
          (f) => Effect.promise(() => f.close())
        )
        const model = yield* Effect.provide(LanguageModel, OpenAiCompatible.layer({ baseUrl: fake.url, model: "m" }))
        const format = { name: "shape", schema: { type: "object", properties: { a: { type: "number" } }, required: ["a"], additionalProperties: false } }
        expect((yield* collect(model.stream({ ...ask("one"), responseFormat: format }))).text).toBe("{\"a\": 1}")
        expect((yield* collect(model.stream({ ...ask("two"), responseFormat: format }))).text).toBe("{\"a\": 2}")
        // a request with no format is sent with none
        expect((yield* collect(model.stream(ask("three")))).text).toBe("plain")
        expect(fake.requests.map((r) => r.response_format?.type ?? null)).toEqual(["json_schema", "json_object", "json_object", null])
        expect(fake.requests[0].response_format.json_schema).toEqual({ name: "shape", schema: format.schema, strict: true })
        expect(fake.refused).toHaveLength(1)
      }).pipe(Effect.scoped))

    it.live("an endpoint that refuses every response format is asked with the prompt alone; other errors are not retried", () =>
      Effect.gen(function*() {
        const fake = yield* Effect.acquireRelease(
          Effect.promise(() => startFakeOpenAi([{ text: "ok" }, { status: 400, error: "context length exceeded" }], { accepts: [] })),
          (f) => Effect.promise(() => f.close())
        )
        const model = yield* Effect.provide(LanguageModel, OpenAiCompatible.layer({ baseUrl: fake.url, model: "m" }))
        const format = { name: "shape", schema: { type: "object" } }
        expect((yield* collect(model.stream({ ...ask("one"), responseFormat: format }))).text).toBe("ok")
        const error = yield* Effect.flip(collect(model.stream({ ...ask("two"), responseFormat: format })))
        expect(error.message).toContain("answered 400: {\"error\":{\"message\":\"context length exceeded\"}}")
        expect(fake.requests.map((r) => r.response_format?.type ?? null)).toEqual(["json_schema", "json_object", null, null])
      }).pipe(Effect.scoped))

    it("knows a refused response format from another 4xx", () => {
      expect(OpenAiCompatible.refusesResponseFormat(400, "{\"error\":{\"message\":\"response_format json_schema is not supported\"}}")).toBe(true)
      expect(OpenAiCompatible.refusesResponseFormat(422, "Unknown field: json_schema")).toBe(true)
      expect(OpenAiCompatible.refusesResponseFormat(400, "context length exceeded")).toBe(false)
      expect(OpenAiCompatible.refusesResponseFormat(500, "response_format broke the server")).toBe(false)
      const memory = OpenAiCompatible.formatMemory()
      expect(memory.refused("json_schema")).toBe("json_object")
      // a late refusal of a mode already given up changes nothing
      expect(memory.refused("json_schema")).toBe("json_object")
      expect(memory.refused("json_object")).toBe("none")
      expect(memory.current()).toBe("none")
    })

    it.live("decodes the stream however its bytes are split; a malformed chunk or a cut-off body is a ModelError", () =>
      Effect.gen(function*() {
        const sse = [
          `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: "Grüße, " }, finish_reason: null }] })}`,
          `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: "wörld ✓" }, finish_reason: null }] })}`,
          ": a comment line",
          `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })}`,
          `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 2 } })}`,
          "data: [DONE]"
        ].join("\r\n\r\n") + "\r\n\r\n"
        // a server that writes its answer a few bytes at a time, cutting lines and characters
        const serve = (body: Buffer, cutAt?: number) =>
          Effect.acquireRelease(
            Effect.promise(() =>
              new Promise<{ url: string; close: () => void }>((resolve) => {
                const server = createServer(async (_req, res) => {
                  res.writeHead(200, { "content-type": "text/event-stream" })
                  const end = cutAt ?? body.length
                  for (let i = 0; i < end; i += 3) {
                    res.write(body.subarray(i, Math.min(i + 3, end)))
                    await new Promise((r) => setImmediate(r))
                  }
                  if (cutAt === undefined) res.end()
                  else res.destroy()
                })
                server.listen(0, "127.0.0.1", () =>
                  resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() }))
              })
            ),
            (s) => Effect.sync(() => s.close())
          )
        const complete = yield* serve(Buffer.from(sse, "utf8"))
        const answer = yield* collect(OpenAiCompatible.streamCompletion({ baseUrl: complete.url, model: "m" }, ask("hi")))
        expect(answer).toEqual({ text: "Grüße, wörld ✓", toolCalls: [], usage: { prompt_tokens: 3, completion_tokens: 2 }, finishReason: "stop" })
        const malformed = yield* serve(Buffer.from("data: {not json\n\n", "utf8"))
        const bad = yield* Effect.flip(collect(OpenAiCompatible.streamCompletion({ baseUrl: malformed.url, model: "m" }, ask("hi"))))
        expect(bad).toMatchObject({ _tag: "ModelError", message: expect.stringContaining("malformed chunk") })
        const cut = yield* serve(Buffer.from(sse, "utf8"), 40)
        const broken = yield* Effect.flip(collect(OpenAiCompatible.streamCompletion({ baseUrl: cut.url, model: "m" }, ask("hi"))))
        expect(broken).toMatchObject({ _tag: "ModelError", message: expect.stringContaining("broke off") })
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
