import { describe, expect, it } from "@effect/vitest"
import { DataDir, Kernel, Sessions, SessionsDecide, SessionsEvents, SessionsProjection } from "@annal/kernel"
import { pageRequest } from "@annal/spec"
import { EventStore } from "@annal/store"
import { Effect, Either, Layer } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { scratchViews } from "./scratchViews.js"

const tempDir = () => mkdtempSync(join(tmpdir(), "annal-sessions-"))
const sessionsAt = (dir: string) =>
  Sessions.layer.pipe(
    Layer.provideMerge(Layer.merge(Kernel.storeLayer({ filename: join(dir, "annal.db"), synchronous: "NORMAL" }), DataDir.layer(dir)))
  )
const chat = { actor: "user:alice" }
const agent = { actor: "agent:orchestrator" }

describe("session decisions", () => {
  it("a first message starts the session; later ones only add a message", () => {
    const first = Either.getOrThrow(SessionsDecide.decideUserMessage("s1", "m1", undefined, { content: "hi", user_id: "alice", persona_id: "dev" }))
    expect(first).toEqual([
      { type: "session_started", data: { session_id: "s1", user_id: "alice", persona_id: "dev", metadata: {} } },
      { type: "message_received", data: { session_id: "s1", message_id: "m1", user_id: "alice", content: "hi" } }
    ])
    const next = Either.getOrThrow(SessionsDecide.decideUserMessage("s1", "m2", { user_id: "alice", persona_id: "dev" }, { content: "more", persona_id: "dev" }))
    expect(next).toEqual([{ type: "message_received", data: { session_id: "s1", message_id: "m2", user_id: "alice", content: "more" } }])
    const switched = Either.getOrThrow(SessionsDecide.decideUserMessage("s1", "m3", { user_id: "alice", persona_id: "dev" }, { content: "x", persona_id: "ops" }))
    expect(switched[0]!.data).toMatchObject({ persona_id: "ops" })
  })

  it("refuses a bad session id, a response in an unknown session and deleting one", () => {
    expect(Either.isLeft(SessionsDecide.decideUserMessage("../s", "m", undefined, { content: "x" }))).toBe(true)
    const response = SessionsDecide.decideResponse("s", "m", undefined, { content: "x" })
    expect(Either.isLeft(response) && response.left._tag).toBe("EntityNotFound")
    const deleted = SessionsDecide.decideDelete("s", undefined)
    expect(Either.isLeft(deleted) && deleted.left._tag).toBe("EntityNotFound")
  })
})

describe("sessions projection", () => {
  it("counts messages, follows the seed and persona, and forgets a deleted session", () => {
    const views = scratchViews(SessionsProjection.sessionsProjection)
    views.apply(SessionsEvents.SESSION_STARTED, { session_id: "s", user_id: "alice", persona_id: "dev", metadata: { channel: "web" } })
    views.apply(SessionsEvents.MESSAGE_RECEIVED, { session_id: "s", message_id: "m1", user_id: "alice", content: "Build" })
    views.apply(SessionsEvents.AGENT_RESPONDED, { session_id: "s", message_id: "m2", content: "OK", seed_id: "seed-1", phase_reached: "code", evaluation_passed: true })
    views.apply(SessionsEvents.AGENT_RESPONDED, { session_id: "s", message_id: "m3", content: "More", seed_id: null, phase_reached: null, evaluation_passed: null })
    views.apply(SessionsEvents.MESSAGE_RECEIVED, { session_id: "s", message_id: "m4", user_id: "alice", content: "Now", persona_id: "ops" })
    expect(views.db.get("SELECT message_count, active_seed_id, active_persona_id, metadata, updated_at, last_seq FROM sessions")).toEqual({
      message_count: 4,
      active_seed_id: "seed-1",
      active_persona_id: "ops",
      metadata: "{\"channel\":\"web\"}",
      updated_at: "2026-01-01T00:00:05.000Z",
      last_seq: 5
    })
    views.apply(SessionsEvents.SESSION_DELETED, { session_id: "s" })
    expect(views.db.get("SELECT (SELECT count(*) FROM sessions) + (SELECT count(*) FROM session_messages) AS n")).toEqual({ n: 0 })
    views.close()
  })
})

describe("the Sessions service", () => {
  it.live("records a conversation and returns it with its history", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const first = yield* sessions.recordUserMessage(undefined, { content: "Build a TODO app", user_id: "alice", persona_id: "default" }, chat)
      expect(first.started).toBe(true)
      const again = yield* sessions.recordUserMessage(first.session_id, { content: "Add tests" }, chat)
      expect(again).toMatchObject({ session_id: first.session_id, started: false })
      yield* sessions.recordResponse(first.session_id, { content: "I will help", seed_id: "seed-9", phase_reached: "code", evaluation_passed: true }, agent)
      const named = yield* sessions.recordUserMessage("session-42", { content: "hello", user_id: "bob" }, chat)
      expect(named).toMatchObject({ session_id: "session-42", started: true })

      const s = yield* sessions.get(first.session_id)
      expect(s).toEqual({
        id: first.session_id,
        user_id: "alice",
        user_messages: ["Build a TODO app", "Add tests"],
        agent_responses: [{
          content: "I will help",
          session_id: first.session_id,
          seed_id: "seed-9",
          phase_reached: "code",
          evaluation_passed: true,
          timestamp: expect.stringMatching(/Z$/)
        }],
        active_seed_id: "seed-9",
        active_persona_id: "default",
        created_at: expect.any(String),
        updated_at: s.agent_responses[0]!.timestamp,
        metadata: {},
        stream: `session-${first.session_id}`
      })
      const page = yield* sessions.list(pageRequest({}))
      expect(page.items.map((i) => [i.id, i.user_id, i.message_count])).toEqual([["session-42", "bob", 1], [first.session_id, "alice", 3]])

      // the record keeps the content and the session in the meta
      const store = yield* EventStore
      const events = yield* store.readStream(`session-${first.session_id}`)
      expect(events.map((e) => e.type)).toEqual(["session_started", "message_received", "message_received", "agent_responded"])
      expect(events[1]!.data.content).toBe("Build a TODO app")
      expect(events[3]!.meta.session_id).toBe(first.session_id)
      expect(events[3]!.actor).toBe("agent:orchestrator")
    }).pipe(Effect.provide(sessionsAt(tempDir()))))

  it.live("messages sent to one session at once are all recorded, each decided on what the other left", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const sent = yield* Effect.forEach(["one", "two", "three", "four"], (content) => sessions.recordUserMessage("s-burst", { content, user_id: "alice" }, chat), {
        concurrency: "unbounded"
      })
      expect(sent.filter((m) => m.started)).toHaveLength(1)
      const events = yield* (yield* EventStore).readStream("session-s-burst")
      expect(events.map((e) => e.type)).toEqual(["session_started", "message_received", "message_received", "message_received", "message_received"])
      expect(events.filter((e) => e.type === "message_received").map((e) => e.data.content).sort()).toEqual(["four", "one", "three", "two"])
    }).pipe(Effect.provide(sessionsAt(tempDir()))))

  it.live("deletes a session from the views but not from the log; unknown ids are typed errors", () =>
    Effect.gen(function*() {
      const sessions = yield* Sessions
      const store = yield* EventStore
      const { session_id } = yield* sessions.recordUserMessage(undefined, { content: "secret plan" }, chat)
      expect((yield* Effect.flip(sessions.recordResponse("nope", { content: "x" }, agent)))._tag).toBe("EntityNotFound")
      expect(yield* sessions.delete(session_id, chat)).toBe(session_id)
      expect((yield* Effect.flip(sessions.get(session_id)))._tag).toBe("EntityNotFound")
      expect((yield* Effect.flip(sessions.delete(session_id, chat)))._tag).toBe("EntityNotFound")
      expect((yield* sessions.list(pageRequest({}))).total).toBe(0)
      expect((yield* store.readStream(`session-${session_id}`)).map((e) => e.type)).toEqual(["session_started", "message_received", "session_deleted"])
      // the id can start a new conversation
      const again = yield* sessions.recordUserMessage(session_id, { content: "new start" }, chat)
      expect(again.started).toBe(true)
      expect((yield* sessions.get(session_id)).user_messages).toEqual(["new start"])
    }).pipe(Effect.provide(sessionsAt(tempDir()))))
})
