/**
 * Chat with models as the world has them, against the real server and local fake
 * OpenAI-compatible endpoints speaking the real protocol: one that answers everything in prose,
 * one that refuses `json_schema` (400) and accepts `json_object`, one whose first structured
 * answer is broken and whose repair is valid — each driven over `POST /api/chat` and the
 * WebSocket to a 200 / `done` with the fallbacks on the record; a greeting answered in one model
 * call (phase `respond`); an endpoint that cannot be reached (502 naming it) and a GGUF that
 * cannot be loaded (503 saying why), with the WebSocket's `error` frame saying the same.
 */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type FakeOpenAi, type ScriptedReply, startFakeOpenAi } from "../../kernel/test/fixtures/fakeOpenAi.js"
import { type RunningServer, startServer, tempDir } from "./harness.js"
import { sseFrames } from "./offline.js"
import { connect } from "./wsClient.js"

const PROSE = "Happy to help! Here is what I think about that."
const json = (value: unknown): ScriptedReply => ({ text: JSON.stringify(value) })
const clear = json({ asks_for_work: true, reply: "", goal_clarity: 1, constraints_clarity: 1, success_clarity: 1, questions: [] })
const modelEnv = (url: string) => ({ ANNAL_MODEL_PATH: "", ANNAL_LLM_BASE_URL: url, ANNAL_LLM_MODEL: "fake" })
const chat = (s: RunningServer, body: unknown) => s.json("/api/chat", { method: "POST", body: JSON.stringify(body) })

/** The `phase_completed` events of a session, once there are `count` of them. */
const completedPhases = async (s: RunningServer, sessionId: string, count: number) =>
  (await sseFrames(s, ["phase_completed"], (f) => f.filter((x) => x.session_id === sessionId).length >= count)).filter((f) => f.session_id === sessionId)

const summary = (frames: ReadonlyArray<Record<string, unknown>>) => frames.map((f) => [f.phase, f.fallback ?? null, f.repaired ?? null])

describe("a model that answers everything in prose, one whose first answer is broken, and a greeting", () => {
  let fake: FakeOpenAi
  let server: RunningServer
  beforeAll(async () => {
    fake = await startFakeOpenAi([], { otherwise: () => ({ text: PROSE }) })
    server = await startServer({ dataDir: tempDir(), env: modelEnv(fake.url) })
  })
  afterAll(async () => {
    await server?.stop()
    await fake?.close()
  })

  it("POST /api/chat answers 200 with the agent's prose; every structured phase was repaired once, then fell back", async () => {
    const before = fake.requests.length
    const response = await chat(server, { content: "tell me about lighthouses", session_id: "prose-http" })
    expect(response.status).toBe(200)
    expect(response.body).toMatchObject({ reply: PROSE, phase: "evaluate", session_id: "prose-http" })
    // interview ×2, seed ×2, the agent, evaluation ×2
    expect(fake.requests.length - before).toBe(7)
    const phases = await completedPhases(server, "prose-http", 4)
    expect(summary(phases)).toEqual([
      ["interview", "let_through", true],
      ["seed", "message_as_goal", true],
      ["execute", null, null],
      ["evaluate", "mechanical_result", true]
    ])
    expect(phases[0]!.detail).toBe("the model's interview answer is not the JSON asked for: no JSON object in the answer")
    // the fallback seed: the user's message as the goal, no criteria
    const seed = await server.json(`/api/seeds/${phases[1]!.seed_id}`)
    expect(seed.body).toMatchObject({ goal: "tell me about lighthouses", acceptance_criteria: [] })
  })

  it("the WebSocket ends such a run in done, the fallbacks in its phase_completed frames", async () => {
    const client = await connect(server)
    try {
      client.send({ type: "message", content: "tell me about harbours", session_id: "prose-ws" })
      const done = await client.next((f) => f.type === "done")
      expect(done).toMatchObject({ status: "completed", phase: "evaluate", session_id: "prose-ws" })
      expect(client.frames.find((f) => f.type === "reply")).toMatchObject({ reply: PROSE, phase: "evaluate" })
      expect(client.frames.some((f) => f.type === "error")).toBe(false)
      const completed = client.frames.filter((f) => f.type === "phase_completed")
      expect(summary(completed)).toEqual([
        ["interview", "let_through", true],
        ["seed", "message_as_goal", true],
        ["execute", null, null],
        ["evaluate", "mechanical_result", true]
      ])
    } finally {
      client.ws.close()
    }
  })

  it("a broken first answer gets one repair request with the error and the shape, and the repaired answer is used (HTTP and WebSocket)", async () => {
    const broken: ScriptedReply = { text: "```json\n{\"asks_for_work\": true, \"goal_clarity\": 0.2," }
    const questions = (q: string) => json({ asks_for_work: true, reply: "", goal_clarity: 0.1, constraints_clarity: 0.1, success_clarity: 0.1, questions: [q] })
    fake.script.push(broken, questions("Which harbour?"))
    const before = fake.requests.length
    const response = await chat(server, { content: "paint the harbour", session_id: "repair-http" })
    expect(response.status).toBe(200)
    expect(response.body).toMatchObject({ reply: "Which harbour?", phase: "interview" })
    expect(fake.requests.length - before).toBe(2)
    const repair = fake.requests[before + 1].messages
    expect(repair.at(-2)).toEqual({ role: "assistant", content: broken.text })
    expect(repair.at(-1).content).toContain("no JSON object in the answer")
    expect(repair.at(-1).content).toContain("\"goal_clarity\"")
    const [interview] = await completedPhases(server, "repair-http", 1)
    expect(interview).toMatchObject({ phase: "interview", outcome: "questions", repaired: true })
    expect(interview!.fallback).toBeUndefined()

    fake.script.push(broken, questions("Which colour?"))
    const client = await connect(server)
    try {
      client.send({ type: "message", content: "paint it", session_id: "repair-ws" })
      const done = await client.next((f) => f.type === "done")
      expect(done).toMatchObject({ status: "completed", phase: "interview" })
      expect(client.frames.find((f) => f.type === "reply")).toMatchObject({ reply: "Which colour?" })
      expect(client.frames.find((f) => f.type === "phase_completed")).toMatchObject({ phase: "interview", repaired: true, outcome: "questions" })
    } finally {
      client.ws.close()
    }
  })

  it("a greeting is answered in one model call with phase respond: no seed, no agent; its words stream over the WebSocket", async () => {
    const greeting = (reply: string) => json({ asks_for_work: false, reply, goal_clarity: 1, constraints_clarity: 1, success_clarity: 1, questions: [] })
    fake.script.push(greeting("Hello! How can I help you today?"))
    const agentsBefore = (await server.json("/api/agents")).body.total
    const seedsBefore = (await server.json("/api/seeds")).body.total
    const before = fake.requests.length
    const response = await chat(server, { content: "hello!", session_id: "greet-http" })
    expect(response.status).toBe(200)
    expect(response.body).toMatchObject({ reply: "Hello! How can I help you today?", phase: "respond", session_id: "greet-http" })
    expect(fake.requests.length - before).toBe(1)
    expect((await server.json("/api/agents")).body.total).toBe(agentsBefore)
    expect((await server.json("/api/seeds")).body.total).toBe(seedsBefore)
    const session = await server.json("/api/sessions/greet-http")
    expect(session.body.agent_responses.map((r: any) => [r.content, r.phase_reached])).toEqual([["Hello! How can I help you today?", "respond"]])

    fake.script.push(greeting("Good evening to you too."))
    const client = await connect(server)
    try {
      client.send({ type: "message", content: "good evening", session_id: "greet-ws" })
      const done = await client.next((f) => f.type === "done")
      expect(done).toMatchObject({ status: "completed", phase: "respond" })
      expect(fake.requests.length - before).toBe(2)
      expect(client.frames.find((f) => f.type === "reply")).toMatchObject({ reply: "Good evening to you too.", phase: "respond", seed_id: null })
      const words = client.frames.filter((f) => f.type === "token" && f.phase === "respond").map((f) => f.text)
      expect(words.join("")).toBe("Good evening to you too.")
      expect(client.frames.filter((f) => f.type.startsWith("phase_")).map((f) => `${f.type}:${f.phase}`)).toEqual([
        "phase_started:interview", "phase_completed:interview", "phase_started:respond", "phase_completed:respond"
      ])
    } finally {
      client.ws.close()
    }
    expect((await server.json("/api/agents")).body.total).toBe(agentsBefore)
  })
})

describe("an endpoint that refuses json_schema and accepts json_object", () => {
  let fake: FakeOpenAi
  let server: RunningServer
  beforeAll(async () => {
    fake = await startFakeOpenAi([], { accepts: ["json_object"] })
    server = await startServer({ dataDir: tempDir(), env: modelEnv(fake.url) })
  })
  afterAll(async () => {
    await server?.stop()
    await fake?.close()
  })

  it("is refused once, then asked with json_object for every structured phase (HTTP and WebSocket)", async () => {
    const seed = json({ goal: "Say hi", constraints: [], acceptance_criteria: [], ontology: { name: "x", description: "", fields: [] } })
    const passed = json({ score: 1, passed: true, summary: "fine" })
    fake.script.push(clear, seed, { text: "Hi." }, passed)
    const response = await chat(server, { content: "say hi in a note", session_id: "fmt-http" })
    expect(response.status).toBe(200)
    expect(response.body).toMatchObject({ reply: "Hi.", phase: "evaluate" })
    expect(summary(await completedPhases(server, "fmt-http", 4))).toEqual([
      ["interview", null, null], ["seed", null, null], ["execute", null, null], ["evaluate", null, null]
    ])

    fake.script.push(clear, seed, { text: "Hi again." }, passed)
    const client = await connect(server)
    try {
      client.send({ type: "message", content: "say hi again", session_id: "fmt-ws" })
      expect(await client.next((f) => f.type === "done")).toMatchObject({ status: "completed", phase: "evaluate" })
    } finally {
      client.ws.close()
    }
    // one refused request in all: the endpoint's answer is remembered
    expect(fake.refused).toHaveLength(1)
    expect(fake.refused[0].response_format.type).toBe("json_schema")
    expect(fake.requests.map((r) => r.response_format?.type ?? null)).toEqual([
      "json_schema", "json_object", "json_object", null, "json_object",
      "json_object", "json_object", null, "json_object"
    ])
  })
})

describe("a model that cannot be used", () => {
  it("an endpoint that cannot be reached is 502 naming it; the WebSocket's error frame says the same", async () => {
    // a port that was just listened on and closed: nothing answers there
    const gone = await startFakeOpenAi()
    await gone.close()
    const server = await startServer({ dataDir: tempDir(), env: modelEnv(gone.url) })
    try {
      const response = await chat(server, { content: "hello", session_id: "down" })
      expect(response.status).toBe(502)
      expect(Object.keys(response.body)).toEqual(["error"])
      expect(response.body.error).toContain(`the language model at ${gone.url}/v1/chat/completions cannot be reached`)
      const client = await connect(server)
      try {
        client.send({ type: "message", content: "hello", session_id: "down-ws" })
        const error = await client.next((f) => f.type === "error")
        expect(error.error).toBe(response.body.error)
        expect(await client.next((f) => f.type === "done")).toMatchObject({ status: "failed" })
      } finally {
        client.ws.close()
      }
    } finally {
      await server.stop()
    }
  })

  it("an endpoint that answers an error is 502 naming it and its status", async () => {
    const fake = await startFakeOpenAi([{ status: 500, error: "the GPU caught fire" }])
    const server = await startServer({ dataDir: tempDir(), env: modelEnv(fake.url) })
    try {
      const response = await chat(server, { content: "hello" })
      expect(response.status).toBe(502)
      expect(response.body.error).toBe(`the language model at ${fake.url}/v1/chat/completions answered 500: {"error":{"message":"the GPU caught fire"}}`)
    } finally {
      await server.stop()
      await fake.close()
    }
  })

  it("a configured GGUF that cannot be loaded is 503 saying why; the WebSocket's error frame says the same", async () => {
    const dir = tempDir()
    const model = join(dir, "broken.gguf")
    writeFileSync(model, "this is not a GGUF file")
    const server = await startServer({ dataDir: join(dir, "data"), args: ["--model", model], env: { ANNAL_MODEL_PATH: "", ANNAL_LLM_BASE_URL: "" } })
    try {
      const response = await chat(server, { content: "hello" })
      expect(response.status).toBe(503)
      expect(response.body.error).toContain(`could not load the model ${model}`)
      const client = await connect(server)
      try {
        client.send("hello")
        const error = await client.next((f) => f.type === "error")
        expect(error.error).toBe(response.body.error)
      } finally {
        client.ws.close()
      }
    } finally {
      await server.stop()
    }
  })
})
