/**
 * Black-box tests of the agent groups endpoints (seed section 19) against the real `annal serve`.
 * Groups are created by the supervisor, which has no endpoint: the test creates them through
 * the real kernel on the data directory before the server starts.
 */
import { AgentGroups } from "@annal/kernel"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningServer, startServer, tempDir } from "./harness.js"
import { sseFrames, withKernel } from "./offline.js"

let server: RunningServer
let ids: { build: string; review: string; running: string }

beforeAll(async () => {
  const dataDir = tempDir()
  ids = await withKernel(
    dataDir,
    Effect.gen(function*() {
      const groups = yield* AgentGroups
      const supervisor = { actor: "system" }
      const build = yield* groups.create({ name: "parallel-build", agent_ids: ["agent-1", "agent-2", "agent-3"], id: "group-550e8400" }, supervisor)
      const review = yield* groups.create({ name: "review", agent_ids: ["agent-4", "agent-5"] }, supervisor)
      const running = yield* groups.create({ name: "long-haul", agent_ids: ["agent-6", "agent-7"] }, supervisor)
      for (const agent of ["agent-1", "agent-2", "agent-3"]) yield* groups.memberCompleted(build.id, agent, { success: true, result: `${agent} done` }, supervisor)
      yield* groups.memberCompleted(review.id, "agent-4", { success: true }, supervisor)
      yield* groups.memberCompleted(review.id, "agent-5", { success: false, result: "tests failed" }, supervisor)
      yield* groups.memberCompleted(running.id, "agent-7", { success: true }, supervisor)
      return { build: build.id, review: review.id, running: running.id }
    })
  )
  server = await startServer({ dataDir })
})
afterAll(async () => {
  await server?.stop()
})

describe("GET /api/agent-groups", () => {
  it("lists every group as a plain array, newest first, with its derived status", async () => {
    const { status, body } = await server.json("/api/agent-groups")
    expect(status).toBe(200)
    expect(body).toEqual([
      { id: ids.running, name: "long-haul", agent_count: 2, status: "running", created_at: expect.stringMatching(/Z$/), stream: `agent-group-${ids.running}` },
      { id: ids.review, name: "review", agent_count: 2, status: "failed", created_at: expect.any(String), stream: `agent-group-${ids.review}` },
      { id: "group-550e8400", name: "parallel-build", agent_count: 3, status: "completed", created_at: expect.any(String), stream: "agent-group-group-550e8400" }
    ])
  })
})

describe("GET /api/agent-groups/{id}", () => {
  it("returns the whole group with its members and their statuses", async () => {
    const { status, body } = await server.json(`/api/agent-groups/${ids.review}`)
    expect(status).toBe(200)
    expect(body).toEqual({
      id: ids.review,
      name: "review",
      agent_count: 2,
      status: "failed",
      created_at: expect.any(String),
      updated_at: expect.any(String),
      completed_at: body.updated_at,
      completed_count: 1,
      failed_count: 1,
      members: [
        { agent_id: "agent-4", status: "completed", result: null, completed_at: expect.any(String) },
        { agent_id: "agent-5", status: "failed", result: "tests failed", completed_at: expect.any(String) }
      ],
      stream: `agent-group-${ids.review}`
    })
    const running = (await server.json(`/api/agent-groups/${ids.running}`)).body
    expect(running).toMatchObject({ status: "running", completed_at: null, completed_count: 1, failed_count: 0 })
    expect(running.members.map((m: { status: string }) => m.status)).toEqual(["running", "completed"])
  })

  it("answers 404 for an unknown id", async () => {
    const { status, body } = await server.json("/api/agent-groups/group-nope")
    expect(status).toBe(404)
    expect(body).toEqual({ error: "agent group not found: group-nope" })
  })
})

describe("the record", () => {
  it("streams agent_group_created and agent_group_member_completed with ids, not results", async () => {
    const frames = await sseFrames(server, ["agent_group_created", "agent_group_member_completed"], (f) => f.length >= 9)
    expect(frames.map((f) => f.type)).toEqual([
      "agent_group_created", "agent_group_created", "agent_group_created",
      "agent_group_member_completed", "agent_group_member_completed", "agent_group_member_completed",
      "agent_group_member_completed", "agent_group_member_completed", "agent_group_member_completed"
    ])
    expect(frames[0]).toMatchObject({ group_id: "group-550e8400", name: "parallel-build", agent_ids: ["agent-1", "agent-2", "agent-3"] })
    expect(frames[7]).toMatchObject({ group_id: ids.review, agent_id: "agent-5", success: false })
    for (const f of frames) expect(f).not.toHaveProperty("result")
  })
})

describe("/openapi.json", () => {
  it("documents these endpoints", async () => {
    const paths = Object.keys((await server.json("/openapi.json", { token: null })).body.paths)
    for (const path of ["/api/agent-groups", "/api/agent-groups/{id}"]) expect(paths).toContain(path)
  })
})

describe("restart", () => {
  it("keeps every group and member", async () => {
    const list = (await server.json("/api/agent-groups")).body
    const detail = (await server.json("/api/agent-groups/group-550e8400")).body
    await server.stop()
    server = await startServer({ dataDir: server.dataDir })
    expect((await server.json("/api/agent-groups")).body).toEqual(list)
    expect((await server.json("/api/agent-groups/group-550e8400")).body).toEqual(detail)
    expect(detail.members.map((m: { result: string }) => m.result)).toEqual(["agent-1 done", "agent-2 done", "agent-3 done"])
  }, 120_000)
})
