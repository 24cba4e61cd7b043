/**
 * The chat over HTTP (seed section 2) against the real server with a fake OpenAI-compatible
 * model scripting the whole orchestrator loop; 503 with no model, 400 for a bad body, 504 past
 * the chat timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type FakeOpenAi, startFakeOpenAi } from "../../kernel/test/fixtures/fakeOpenAi.js"
import { type RunningServer, startServer, tempDir, until } from "./harness.js"
import { sseFrames } from "./offline.js"

let fake: FakeOpenAi
let server: RunningServer

beforeAll(async () => {
  fake = await startFakeOpenAi()
  server = await startServer({ dataDir: tempDir(), env: { ANNAL_MODEL_PATH: "", ANNAL_LLM_BASE_URL: fake.url, ANNAL_LLM_MODEL: "fake" } })
  const policy = await server.json("/api/config", { method: "PUT", body: JSON.stringify({ tools: { policies: { write: "auto" } } }) })
  expect(policy.status).toBe(200)
})
afterAll(async () => {
  await server?.stop()
  await fake?.close()
})

const chat = (s: RunningServer, body: unknown) => s.json("/api/chat", { method: "POST", body: JSON.stringify(body) })
const json = (value: unknown) => ({ text: JSON.stringify(value) })

describe("POST /api/chat", () => {
  it("runs interview → seed → execute → evaluate → evolve → evaluate and answers", async () => {
    fake.script.push(
      json({ goal_clarity: 0.2, constraints_clarity: 0.3, success_clarity: 0.1, questions: ["Which file?"] }),
      (body: any) =>
        JSON.stringify(body.messages).includes("Which file?")
          ? json({ goal_clarity: 1, constraints_clarity: 0.9, success_clarity: 0.9, questions: [] })
          : { text: "the interview lost its history" },
      json({ goal: "Write a plan", constraints: [], acceptance_criteria: ["`plan.md` exists"], ontology: null }),
      { text: "I thought about it." },
      json({ goal: "Write the plan to plan.md" }),
      { toolCalls: [{ name: "write", arguments: { path: "plan.md", content: "# Plan" } }] },
      { text: "Wrote plan.md." },
      json({ score: 0.8, passed: true })
    )
    const first = await chat(server, { content: "make a plan" })
    expect(first.status).toBe(200)
    expect(first.body).toEqual({ id: expect.any(String), echo: "make a plan", reply: "Which file?", session_id: expect.any(String), phase: "interview" })

    const second = await chat(server, { content: "in plan.md please", session_id: first.body.session_id, user_id: "ada" })
    expect(second.status).toBe(200)
    expect(second.body).toMatchObject({ echo: "in plan.md please", reply: "Wrote plan.md.", session_id: first.body.session_id, phase: "evaluate" })
    expect(fake.script).toHaveLength(0)

    const frames = await sseFrames(server, ["phase_started", "phase_completed", "seed_created", "evaluation_complete"], (f) => f.length >= 20)
    expect(frames.map((f) => (String(f.type).startsWith("phase_") ? `${f.type}:${f.phase}` : f.type))).toEqual([
      "phase_started:interview", "phase_completed:interview",
      "phase_started:interview", "phase_completed:interview",
      "phase_started:seed", "seed_created", "phase_completed:seed",
      "phase_started:execute", "phase_completed:execute",
      "phase_started:evaluate", "evaluation_complete", "phase_completed:evaluate",
      "phase_started:evolve", "seed_created", "phase_completed:evolve",
      "phase_started:execute", "phase_completed:execute",
      "phase_started:evaluate", "evaluation_complete", "phase_completed:evaluate"
    ])
    const seeds = frames.filter((f) => f.type === "seed_created").map((f) => String(f.seed_id))
    const lineage = await server.json(`/api/seeds/${seeds[1]}/evolution`)
    expect(lineage.status).toBe(200)
    expect(lineage.body).toEqual([
      { id: seeds[0], generation: 0, goal: "Write a plan", parent_id: null, score: 0, passed: false },
      { id: seeds[1], generation: 1, goal: "Write the plan to plan.md", parent_id: seeds[0], score: 0.8, passed: true }
    ])

    const session = await server.json(`/api/sessions/${first.body.session_id}`)
    expect(session.status).toBe(200)
    expect(session.body.user_messages).toEqual(["make a plan", "in plan.md please"])
    expect(session.body.agent_responses.map((r: any) => [r.content, r.phase_reached, r.evaluation_passed])).toEqual([
      ["Which file?", "interview", null],
      ["Wrote plan.md.", "evaluate", true]
    ])
  }, 30_000)

  it("answers a retry with the same Idempotency-Key with the first reply, running the message once", async () => {
    fake.script.push(
      json({ goal_clarity: 1, constraints_clarity: 1, success_clarity: 1, questions: [] }),
      json({ goal: "Write the list", constraints: [], acceptance_criteria: ["`list.md` exists"], ontology: null }),
      { toolCalls: [{ name: "write", arguments: { path: "list.md", content: "- milk" } }] },
      { text: "Wrote list.md." },
      json({ score: 0.9, passed: true })
    )
    const keyed = (body: unknown) =>
      server.json("/api/chat", { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json", "idempotency-key": "chat-once-1" } })
    const first = await keyed({ content: "write my list", session_id: "keyed-chat" })
    expect(first.status).toBe(200)
    expect(first.body).toMatchObject({ reply: "Wrote list.md.", session_id: "keyed-chat", phase: "evaluate" })
    expect(fake.script).toHaveLength(0)
    // the retry asks the model nothing (the script is empty: another run would fail) and answers alike
    const again = await keyed({ content: "write my list", session_id: "keyed-chat" })
    expect(again.status).toBe(200)
    expect(again.body).toEqual(first.body)
    const session = await server.json("/api/sessions/keyed-chat")
    expect(session.body.user_messages).toEqual(["write my list"])
    expect(session.body.agent_responses.map((r: any) => r.content)).toEqual(["Wrote list.md."])
    // the run itself is on the record, although the request's key was used by its message
    const runs = await sseFrames(server, ["phase_completed"], (f) => f.filter((x) => x.session_id === "keyed-chat").length >= 4)
    expect(runs.filter((f) => f.session_id === "keyed-chat").map((f) => f.phase)).toEqual(["interview", "seed", "execute", "evaluate"])
  })

  it("answers 400 for a missing, empty or oversized content", async () => {
    expect((await chat(server, {})).status).toBe(400)
    expect((await chat(server, { content: "   " })).status).toBe(400)
    expect((await chat(server, { content: "  ", extra: 1 })).status).toBe(400)
    expect((await chat(server, { content: 42 })).status).toBe(400)
    const big = await chat(server, { content: "é".repeat(32 * 1024 + 1) })
    expect(big.status).toBe(400)
    expect(big.body.error).toContain("65536")
    expect((await server.json("/api/chat", { method: "POST", body: "{}", token: null })).status).toBe(401)
  })

  it("answers 504 past the chat timeout while the run goes on", async () => {
    expect((await server.json("/api/config", { method: "PUT", body: JSON.stringify({ orchestrator: { chat_timeout_secs: 1 } }) })).status).toBe(200)
    fake.script.push({ text: JSON.stringify({ goal_clarity: 0, constraints_clarity: 0, success_clarity: 0, questions: ["What now?"] }, null, 2), delayMs: 300 })
    const started = Date.now()
    const response = await chat(server, { content: "hmm", session_id: "slow-chat" })
    expect(response.status).toBe(504)
    expect(Object.keys(response.body)).toEqual(["error"])
    expect(Date.now() - started).toBeLessThan(5_000)
    // the run finishes in the background and records its reply
    const responses: Array<any> = await until(
      "the run's reply in its session",
      async () => (await server.json("/api/sessions/slow-chat")).body.agent_responses ?? [],
      (r) => r.length > 0
    )
    expect(responses.map((r) => r.content)).toEqual(["What now?"])
  }, 30_000)
})

describe("/openapi.json", () => {
  it("documents POST /api/chat with its 502, 503 and 504", async () => {
    const spec = (await server.json("/openapi.json", { token: null })).body
    expect(Object.keys(spec.paths)).toContain("/api/chat")
    expect(Object.keys(spec.paths["/api/chat"].post.responses)).toEqual(expect.arrayContaining(["200", "400", "502", "503", "504"]))
  })
})

describe("POST /api/chat with no model", () => {
  it("answers 503 with how to configure one", async () => {
    const bare = await startServer({ dataDir: tempDir(), env: { ANNAL_MODEL_PATH: "", ANNAL_LLM_BASE_URL: "", ANNAL_LLM_MODEL: "" } })
    try {
      const response = await chat(bare, { content: "hello" })
      expect(response.status).toBe(503)
      expect(response.body.error).toMatch(/^no language model configured: /)
      expect(Object.keys(response.body)).toEqual(["error"])
    } finally {
      await bare.stop()
    }
  }, 30_000)
})
