/**
 * Black-box tests of the sessions endpoints (seed section 14) against the real `annal serve`.
 * Messages are recorded by the chat runtime, which has no endpoint of its own here: the test
 * records them through the real kernel on the data directory before the server starts.
 */
import { Sessions } from "@annal/kernel"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningServer, startServer, tempDir } from "./harness.js"
import { sseFrames, withKernel } from "./offline.js"

let server: RunningServer
let alice: string

beforeAll(async () => {
  const dataDir = tempDir()
  alice = await withKernel(
    dataDir,
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const user = { actor: "user:api" }
      const agent = { actor: "agent:orchestrator" }
      const first = yield* sessions.recordUserMessage(undefined, { content: "Build a TODO app", user_id: "alice", persona_id: "default" }, user)
      yield* sessions.recordResponse(first.session_id, { content: "I will help you build a TODO app...", seed_id: "seed-550e8400", phase_reached: "code", evaluation_passed: true }, agent)
      yield* sessions.recordUserMessage(first.session_id, { content: "Add tests" }, user)
      yield* sessions.recordUserMessage("session-bob", { content: "Hello", user_id: "bob" }, user)
      yield* sessions.recordUserMessage("session-carol", { content: "Hi", user_id: "carol" }, user)
      yield* sessions.recordResponse("session-carol", { content: "Hello Carol" }, agent)
      return first.session_id
    })
  )
  server = await startServer({ dataDir })
})
afterAll(async () => {
  await server?.stop()
})

describe("GET /api/sessions", () => {
  it("lists sessions, most recently active first, in the Oxios page shape", async () => {
    const { status, body } = await server.json("/api/sessions")
    expect(status).toBe(200)
    expect(body).toMatchObject({ total: 3, page: 1, limit: 50 })
    expect(body.items.map((s: { id: string }) => s.id)).toEqual(["session-carol", "session-bob", alice])
    expect(body.items[2]).toEqual({
      id: alice,
      user_id: "alice",
      message_count: 3,
      active_seed_id: "seed-550e8400",
      created_at: expect.stringMatching(/Z$/),
      updated_at: expect.stringMatching(/Z$/),
      stream: `session-${alice}`
    })
    expect(body.items[1]).toMatchObject({ user_id: "bob", message_count: 1, active_seed_id: null })
    const page = (await server.json("/api/sessions?page=2&limit=2")).body
    expect(page).toMatchObject({ total: 3, page: 2, limit: 2 })
    expect(page.items.map((s: { id: string }) => s.id)).toEqual([alice])
  })
})

describe("GET /api/sessions/{id}", () => {
  it("returns the session with its whole history", async () => {
    const { status, body } = await server.json(`/api/sessions/${alice}`)
    expect(status).toBe(200)
    expect(body).toEqual({
      id: alice,
      user_id: "alice",
      user_messages: ["Build a TODO app", "Add tests"],
      agent_responses: [{
        content: "I will help you build a TODO app...",
        session_id: alice,
        seed_id: "seed-550e8400",
        phase_reached: "code",
        evaluation_passed: true,
        timestamp: expect.stringMatching(/Z$/)
      }],
      active_seed_id: "seed-550e8400",
      active_persona_id: "default",
      created_at: expect.any(String),
      updated_at: expect.any(String),
      metadata: {},
      stream: `session-${alice}`
    })
    expect(body.updated_at > body.created_at || body.updated_at === body.created_at).toBe(true)
    const carol = (await server.json("/api/sessions/session-carol")).body
    expect(carol.agent_responses).toEqual([
      { content: "Hello Carol", session_id: "session-carol", seed_id: null, phase_reached: null, evaluation_passed: null, timestamp: expect.any(String) }
    ])
  })

  it("answers 404 for an unknown id", async () => {
    const { status, body } = await server.json("/api/sessions/session-nope")
    expect(status).toBe(404)
    expect(body).toEqual({ error: "session not found: session-nope" })
  })
})

describe("the record", () => {
  it("streams message_received and agent_responded without their content", async () => {
    const frames = await sseFrames(server, ["session_started", "message_received", "agent_responded"], (f) => f.length >= 9)
    expect(frames.map((f) => f.type)).toEqual([
      "session_started", "message_received", "agent_responded", "message_received",
      "session_started", "message_received", "session_started", "message_received", "agent_responded"
    ])
    expect(frames[1]).toMatchObject({ session_id: alice, message_id: expect.any(String), user_id: "alice", stream: `session-${alice}` })
    expect(frames[2]).toMatchObject({ session_id: alice, seed_id: "seed-550e8400" })
    for (const f of frames) expect(f).not.toHaveProperty("content")
    expect(JSON.stringify(frames)).not.toContain("TODO app")
  })
})

describe("DELETE /api/sessions/{id}", () => {
  it("deletes a session; then it is unknown everywhere", async () => {
    const { status, body } = await server.json("/api/sessions/session-bob", { method: "DELETE" })
    expect(status).toBe(200)
    expect(body).toEqual({ status: "deleted", id: "session-bob" })
    expect((await server.json("/api/sessions/session-bob")).status).toBe(404)
    expect((await server.json("/api/sessions")).body.items.map((s: { id: string }) => s.id)).toEqual(["session-carol", alice])
    const entries = (await server.json("/api/audit/entries?from_seq=0&to_seq=1000")).body.entries
    expect(entries[entries.length - 1]).toMatchObject({ action: "session_deleted", resource: "session-session-bob", agent_name: "user:api" })
  })

  it("answers 404 for an unknown or already deleted id", async () => {
    expect((await server.json("/api/sessions/session-bob", { method: "DELETE" })).status).toBe(404)
    const { status, body } = await server.json("/api/sessions/never", { method: "DELETE" })
    expect(status).toBe(404)
    expect(body).toEqual({ error: "session not found: never" })
  })
})

describe("/openapi.json", () => {
  it("documents these endpoints", async () => {
    const paths = Object.keys((await server.json("/openapi.json", { token: null })).body.paths)
    for (const path of ["/api/sessions", "/api/sessions/{id}"]) expect(paths).toContain(path)
  })
})

describe("restart", () => {
  it("keeps the sessions and their history; a deleted session stays deleted", async () => {
    const list = (await server.json("/api/sessions")).body
    const detail = (await server.json(`/api/sessions/${alice}`)).body
    await server.stop()
    server = await startServer({ dataDir: server.dataDir })
    expect((await server.json("/api/sessions")).body).toEqual(list)
    expect((await server.json(`/api/sessions/${alice}`)).body).toEqual(detail)
    expect((await server.json("/api/sessions/session-bob")).status).toBe(404)
  }, 120_000)
})
