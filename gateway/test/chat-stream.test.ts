/**
 * The chat over a WebSocket (`GET /api/chat/stream`) against the real server, with a fake
 * OpenAI-compatible model scripting the runs: the token check before the upgrade, the frames of
 * a whole run, approvals approved, rejected and timed out over the socket, a kill, resuming
 * after a reconnect, bad frames, rate limits, and SSE seeing each event exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { WebSocket } from "ws"
import { connect } from "./wsClient.js"
import { type FakeOpenAi, type ScriptedReply, startFakeOpenAi } from "../../kernel/test/fixtures/fakeOpenAi.js"
import { type RunningServer, startServer, tempDir } from "./harness.js"
import { sseFrames } from "./offline.js"

let fake: FakeOpenAi
let server: RunningServer

const json = (value: unknown): ScriptedReply => ({ text: JSON.stringify(value) })
const clear = json({ goal_clarity: 0.9, constraints_clarity: 0.9, success_clarity: 0.9, questions: [] })
const passed = json({ score: 1, passed: true, summary: "done" })
const seed = (criteria: ReadonlyArray<string>) => json({ goal: "Do the work", constraints: [], acceptance_criteria: criteria, ontology: null })

beforeAll(async () => {
  fake = await startFakeOpenAi()
  server = await startServer({ dataDir: tempDir(), env: { ANNAL_MODEL_PATH: "", ANNAL_LLM_BASE_URL: fake.url, ANNAL_LLM_MODEL: "fake" } })
})
afterAll(async () => {
  await server?.stop()
  await fake?.close()
})

const seqs = (frames: ReadonlyArray<any>) => frames.filter((f) => f.seq !== undefined).map((f) => f.seq as number)
/** In log order: a `reply` and its `done` (or an `error` and its `done`) reflect the same event. */
const inOrder = (xs: ReadonlyArray<number>) => xs.every((x, i) => i === 0 || x >= xs[i - 1]!)
/** No frame twice: each (seq, type) at most once. */
const noDuplicates = (frames: ReadonlyArray<any>) => {
  const keys = frames.filter((f) => f.seq !== undefined).map((f) => `${f.seq}:${f.type}`)
  return new Set(keys).size === keys.length
}

describe("GET /api/chat/stream", () => {
  it("refuses a missing or wrong token with 401 before the upgrade, and a plain GET with 426", async () => {
    await expect(connect(server, null)).rejects.toMatchObject({ status: 401 })
    await expect(connect(server, "wrong-token")).rejects.toMatchObject({ status: 401 })
    const plain = await server.json("/api/chat/stream")
    expect(plain.status).toBe(426)
    expect(plain.body.error).toContain("WebSocket")
  })

  it("streams a whole run: phases, tokens, a tool call approved over the socket, the reply and done", async () => {
    await server.json("/api/config", { method: "PUT", body: JSON.stringify({ tools: { policies: { write: "on_demand" } } }) })
    expect((await server.json("/api/memory", { method: "POST", body: JSON.stringify({ content: "hello files are short" }) })).status).toBe(200)
    fake.script.push(
      clear,
      seed(["`hello.txt` exists"]),
      { toolCalls: [{ name: "write", arguments: { path: "hello.txt", content: "hello" } }] },
      { text: "Wrote hello.txt for you." },
      passed
    )
    const client = await connect(server)
    client.send("please write hello.txt")
    const approval = await client.next((f) => f.type === "approval_requested")
    expect(approval).toMatchObject({ action: "use_tool:write", resource: "hello.txt", id: expect.any(String), seq: expect.any(Number) })
    client.send({ type: "approve", id: approval.id })
    const done = await client.next((f) => f.type === "done")
    expect(done).toMatchObject({ status: "completed", phase: "evaluate" })

    const types = client.frames.filter((f) => f.type !== "token").map((f) => (f.type.startsWith("phase_") ? `${f.type}:${f.phase}` : f.type))
    expect(types).toEqual([
      "phase_started:interview",
      "phase_completed:interview",
      "phase_started:seed",
      "phase_completed:seed",
      "phase_started:execute",
      "tool_start",
      "approval_requested",
      "approval_resolved",
      "tool_end",
      "phase_completed:execute",
      "phase_started:evaluate",
      "phase_completed:evaluate",
      "reply",
      "done"
    ])
    expect(inOrder(seqs(client.frames))).toBe(true)
    expect(noDuplicates(client.frames)).toBe(true)
    const sessionId = client.frames[0].session_id
    expect(client.frames.filter((f) => f.type !== "approval_resolved").every((f) => f.session_id === sessionId)).toBe(true)
    expect(client.frames.find((f) => f.type === "approval_resolved")).toMatchObject({ id: approval.id, status: "approved" })
    expect(client.frames.find((f) => f.type === "tool_end")).toMatchObject({ tool: "write", status: "completed" })
    expect(client.frames.find((f) => f.type === "reply")).toMatchObject({ reply: "Wrote hello.txt for you.", phase: "evaluate", evaluation_passed: true })
    // the execute phase's tokens are the agent's words as the model streamed them
    const tokens = client.frames.filter((f) => f.type === "token" && f.phase === "execute").map((f) => f.text).join("")
    expect(tokens).toBe("Wrote hello.txt for you.")
    expect(client.frames.some((f) => f.type === "token" && f.phase === "interview")).toBe(true)
    expect(await (await server.fetch("/api/workspace/file/hello.txt")).text()).toBe("hello")
    // the session has both sides
    const session = await server.json(`/api/sessions/${sessionId}`)
    expect(session.body.user_messages).toEqual(["please write hello.txt"])
    expect(session.body.agent_responses[0].content).toBe("Wrote hello.txt for you.")
    client.ws.close()
  })

  it("a rejected call and a call whose approval times out are denied; the model hears why and the run goes on", async () => {
    await server.json("/api/config", { method: "PUT", body: JSON.stringify({ approvals: { timeout_secs: 1 } }) })
    fake.script.push(
      clear,
      seed(["a note"]),
      { toolCalls: [{ name: "write", arguments: { path: "rejected.txt", content: "no" } }] },
      { toolCalls: [{ name: "write", arguments: { path: "expired.txt", content: "late" } }] },
      (body: any) => ({ text: JSON.stringify(body.messages.filter((m: any) => m.role === "tool").map((m: any) => m.content)) }),
      passed
    )
    const client = await connect(server)
    client.send({ type: "message", content: "write two notes" })
    const first = await client.next((f) => f.type === "approval_requested")
    client.send({ type: "reject", id: first.id })
    // the second one is left to expire
    const done = await client.next((f) => f.type === "done", 20_000)
    expect(done.status).toBe("completed")
    const ends = client.frames.filter((f) => f.type === "tool_end")
    expect(ends.map((f) => [f.status, f.stage])).toEqual([["denied", "approval"], ["denied", "approval"]])
    const resolved = client.frames.filter((f) => f.type === "approval_resolved").map((f) => f.status)
    expect(resolved).toEqual(["rejected", "expired"])
    const reply = client.frames.find((f) => f.type === "reply").reply as string
    expect(reply).toContain("rejected")
    expect(reply).toContain("expired")
    expect((await server.fetch("/api/workspace/file/rejected.txt")).status).toBe(404)
    await server.json("/api/config", { method: "PUT", body: JSON.stringify({ approvals: { timeout_secs: 300 }, tools: { policies: { write: "auto" } } }) })
    client.ws.close()
  }, 30_000)

  it("a permission denial and an exhausted budget are tool errors the model hears; the run goes on", async () => {
    fake.script.push(
      clear,
      seed(["an answer"]),
      // the first step thinks aloud before its call: time enough to give the agent a small budget
      { text: "thinking ", delayMs: 400, toolCalls: [{ name: "write", arguments: { path: ".env", content: "SECRET=1" } }] },
      { toolCalls: [{ name: "read", arguments: { path: "hello.txt" } }] },
      (body: any) => ({ text: JSON.stringify(body.messages.filter((m: any) => m.role === "tool").map((m: any) => m.content)) }),
      passed
    )
    const client = await connect(server)
    client.send("try the secrets")
    const thinking = await client.next((f) => f.type === "token" && f.phase === "execute")
    const budget = await server.json(`/api/budget/${thinking.agent_id}`, { method: "POST", body: JSON.stringify({ token_budget: 10, calls_budget: 100, window_secs: 3600 }) })
    expect(budget.status).toBe(200)
    const done = await client.next((f) => f.type === "done")
    expect(done.status).toBe("completed")
    const ends = client.frames.filter((f) => f.type === "tool_end")
    expect(ends.map((f) => [f.tool, f.status, f.stage])).toEqual([["write", "denied", "permission"], ["read", "denied", "budget"]])
    const reply = String(client.frames.find((f) => f.type === "reply").reply)
    expect(reply).toContain("permission denied")
    expect(reply).toContain("budget")
    expect((await server.fetch("/api/workspace/file/.env")).status).not.toBe(200)
    expect((await server.json(`/api/budget/${thinking.agent_id}`)).body.is_exhausted).toBe(true)
    client.ws.close()
  }, 30_000)

  it("a seed with three criteria is worked on by an agent group: the members' frames interleave, each with its agent", async () => {
    await server.json("/api/config", { method: "PUT", body: JSON.stringify({ tools: { policies: { write: "auto" } }, scheduler: { max_concurrent: 3 } }) })
    const member = (body: any): ScriptedReply => {
      if (body.messages.at(-1).role === "tool") return { text: "my part is done" }
      const part = String(body.messages.find((m: any) => String(m.content).includes("Your part"))?.content ?? "").split("Your part")[1] ?? ""
      const file = ["x", "y", "z"].find((f) => part.includes(`group/${f}.txt`)) ?? "none"
      return { text: "on it ", delayMs: 100, toolCalls: [{ name: "write", arguments: { path: `group/${file}.txt`, content: file } }] }
    }
    fake.script.push(
      clear,
      seed(["`group/x.txt` exists", "`group/y.txt` exists", "`group/z.txt` exists"]),
      ...Array.from({ length: 6 }, () => member),
      passed
    )
    const client = await connect(server)
    client.send("write the three group files")
    const done = await client.next((f) => f.type === "done", 20_000)
    expect(done.status).toBe("completed")
    const writers = new Set(client.frames.filter((f) => f.type === "tool_start").map((f) => f.agent_id))
    expect(writers.size).toBe(3)
    for (const f of ["x", "y", "z"]) expect(await (await server.fetch(`/api/workspace/file/group/${f}.txt`)).text()).toBe(f)
    const groups = (await server.json("/api/agent-groups")).body
    const group = (await server.json(`/api/agent-groups/${groups[0].id}`)).body
    expect(group).toMatchObject({ agent_count: 3, status: "completed", completed_count: 3 })
    expect(new Set(group.members.map((m: any) => m.agent_id))).toEqual(writers)
    await server.json("/api/config", { method: "PUT", body: JSON.stringify({ scheduler: { max_concurrent: 2 } }) })
    client.ws.close()
  }, 30_000)

  it("killing the running agent ends the run with an error frame and done", async () => {
    fake.script.push(clear, seed(["talk"]), { text: Array.from({ length: 400 }, (_, i) => `word${i}`).join(" "), delayMs: 25 })
    const client = await connect(server)
    client.send("talk for a long time")
    const token = await client.next((f) => f.type === "token" && f.phase === "execute")
    expect(token.agent_id).toEqual(expect.any(String))
    const killed = await server.fetch(`/api/agents/${token.agent_id}/kill`, { method: "POST" })
    expect(killed.status).toBe(200)
    const done = await client.next((f) => f.type === "done")
    expect(done.status).toBe("failed")
    expect(client.frames.find((f) => f.type === "error")).toMatchObject({ phase: "execute", error: expect.stringContaining("killed") })
    const agents = await server.json("/api/agents")
    expect(agents.body.items.find((a: any) => a.id === token.agent_id).status).toBe("Stopped")
    client.ws.close()
  }, 30_000)

  it("a client that reconnects and resumes from its last seq gets what it missed, nothing twice", async () => {
    fake.script.push(clear, seed(["an answer"]), { text: "a slow answer that keeps going for a while", delayMs: 80 }, passed)
    const first = await connect(server)
    first.send("answer slowly")
    const started = await first.next((f) => f.type === "phase_started" && f.phase === "execute")
    const lastSeq = Math.max(...seqs(first.frames))
    first.ws.close()
    await first.closed

    const second = await connect(server)
    second.send({ type: "resume", last_seq: lastSeq, session_id: started.session_id })
    const done = await second.next((f) => f.type === "done")
    expect(done.status).toBe("completed")
    const replayed = seqs(second.frames)
    expect(replayed.every((s) => s > lastSeq)).toBe(true)
    expect(noDuplicates(second.frames)).toBe(true)
    expect(second.frames.filter((f) => f.type !== "token").map((f) => f.type)).toEqual([
      "phase_completed", "phase_started", "phase_completed", "reply", "done"
    ])
    expect(second.frames.find((f) => f.type === "reply").reply).toBe("a slow answer that keeps going for a while")

    // resuming again from the start on the same socket sends only what it had not sent yet
    second.send({ type: "resume", last_seq: 0, session_id: started.session_id })
    await second.next((f) => f.type === "phase_started" && f.phase === "interview")
    await new Promise((r) => setTimeout(r, 300))
    expect(noDuplicates(second.frames)).toBe(true)
    second.ws.close()
  }, 30_000)

  it("answers bad frames with an error frame and keeps the socket; closes on a frame over the size limit", async () => {
    const client = await connect(server)
    client.send({ type: "dance" })
    expect((await client.next((f) => f.type === "error")).error).toContain("unknown frame type")
    client.send({ type: "message", content: "" })
    client.send({ type: "approve", id: "00000000-0000-7000-8000-000000000000" })
    client.send({ type: "message", content: "x".repeat(70 * 1024) })
    await client.next(() => client.frames.filter((f) => f.type === "error").length >= 4)
    // frames are handled as they come, so their answers may arrive in any order
    const errors = client.frames.filter((f) => f.type === "error").map((f) => String(f.error))
    expect(errors.filter((e) => e.includes("content"))).toHaveLength(2)
    expect(errors.filter((e) => /not found|no longer pending/i.test(e))).toHaveLength(1)
    expect(client.ws.readyState).toBe(WebSocket.OPEN)
    client.ws.send("y".repeat(200 * 1024))
    expect((await client.closed).code).toBe(1009)
  })

  it("says so when no model is configured", async () => {
    const bare = await startServer({ dataDir: tempDir(), env: { ANNAL_MODEL_PATH: "", ANNAL_LLM_BASE_URL: "" } })
    try {
      const client = await connect(bare)
      client.send("hello")
      const error = await client.next((f) => f.type === "error")
      expect(error.error).toContain("no language model configured")
      client.ws.close()
    } finally {
      await bare.stop()
    }
  })

  it("messages over the rate limit get an error frame, and run nothing", async () => {
    const limited = await startServer({ dataDir: tempDir(), env: { ANNAL_MODEL_PATH: "", ANNAL_LLM_BASE_URL: "http://127.0.0.1:9", ANNAL_LLM_MODEL: "none" } })
    try {
      await limited.json("/api/config", { method: "PUT", body: JSON.stringify({ security: { rate_limit_per_minute: 3 } }) })
      const client = await connect(limited)
      for (let i = 0; i < 6; i++) client.send(`message ${i}`)
      await client.next(() => client.frames.filter((f) => f.type === "error" && String(f.error).includes("rate limit")).length >= 4)
      // the two admitted messages ran (and failed: the model's port is closed); the refused ones ran nothing
      await client.next(() => client.frames.filter((f) => f.type === "done").length >= 2)
      await new Promise((r) => setTimeout(r, 300))
      expect(client.frames.filter((f) => f.type === "done")).toHaveLength(2)
      expect(client.frames.filter((f) => f.type === "error" && String(f.error).includes("rate limit"))).toHaveLength(4)
      client.ws.close()
    } finally {
      await limited.stop()
    }
  })

  it("every live event of those runs reached SSE exactly once per occurrence in the log", async () => {
    const types = ["agent_created", "agent_started", "agent_stopped", "agent_failed", "message_received", "seed_created", "evaluation_complete", "phase_started",
      "phase_completed", "agent_output", "approval_requested", "approval_resolved", "memory_stored", "memory_recalled", "agent_group_created",
      "agent_group_member_completed"]
    const entries: Array<any> = []
    for (let from = 1; ; from += 1000) {
      const page = await server.json(`/api/audit/entries?from_seq=${from}&to_seq=${from + 999}`)
      entries.push(...page.body.entries)
      if (page.body.entries.length < 1000) break
    }
    const inLog = entries.filter((e) => types.includes(e.action))
    const frames = await sseFrames(server, types, (f) => f.length >= inLog.length)
    expect(frames.map((f) => f.seq)).toEqual(inLog.map((e) => e.seq))
    expect(frames.map((f) => f.type)).toEqual(inLog.map((e) => e.action))
    // the runs above produced each of these
    for (const t of ["agent_created", "agent_started", "agent_stopped", "message_received", "seed_created", "evaluation_complete", "phase_started", "phase_completed", "agent_output", "approval_requested", "approval_resolved", "memory_stored", "memory_recalled", "agent_group_created", "agent_group_member_completed"]) {
      expect(frames.some((f) => f.type === t)).toBe(true)
    }
  })
})
