import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningServer, startServer } from "./harness.js"

let server: RunningServer

beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.stop()
})

const post = (s: RunningServer, path: string, body?: unknown) =>
  s.json(path, { method: "POST", ...(body === undefined ? {} : { body: JSON.stringify(body) }) })

/** Submits a task the only way the API offers: a cron job that never fires by itself, triggered. */
const submit = async (s: RunningServer, goal: string, priority: "Low" | "Normal" | "High" | "Critical") => {
  const job = await post(s, "/api/cron-jobs", { name: goal, schedule: "0 0 0 1 1 *", goal, priority })
  expect(job.status).toBe(200)
  const run = await post(s, `/api/cron-jobs/${job.body.id}/trigger`)
  expect(run.status).toBe(200)
  return run.body.task_id as string
}

const SEED_TASK_FIELDS = ["created_at", "description", "error", "id", "priority", "status"]

describe("GET /api/scheduler/stats", () => {
  it("starts empty with the configured limits", async () => {
    const { status, body } = await server.json("/api/scheduler/stats")
    expect(status).toBe(200)
    expect(body).toEqual({ queued: 0, running: 0, max_concurrent: 2, rate_limit_per_minute: 60, rate_remaining: 60 })
  })

  it("follows PUT /api/config at once, and refuses invalid limits naming the field", async () => {
    const put = await server.json("/api/config", { method: "PUT", body: JSON.stringify({ scheduler: { max_concurrent: 4, rate_limit_per_minute: 30 } }) })
    expect(put.status).toBe(200)
    expect(put.body.scheduler).toEqual({ max_concurrent: 4, rate_limit_per_minute: 30 })
    expect((await server.json("/api/scheduler/stats")).body).toMatchObject({ max_concurrent: 4, rate_limit_per_minute: 30, rate_remaining: 30 })
    for (const [scheduler, field] of [[{ max_concurrent: 0 }, "scheduler.max_concurrent"], [{ rate_limit_per_minute: 1.5 }, "scheduler.rate_limit_per_minute"]] as const) {
      const refused = await server.json("/api/config", { method: "PUT", body: JSON.stringify({ scheduler }) })
      expect(refused.status).toBe(400)
      expect(refused.body.error).toContain(`"${field}"`)
    }
    await server.json("/api/config", { method: "PUT", body: JSON.stringify({ scheduler: { max_concurrent: 2, rate_limit_per_minute: 60 } }) })
  })
})

describe("GET /api/scheduler/tasks", () => {
  it("lists queued tasks in admission order (priority, then first come) in the seed's shape", async () => {
    const low = await submit(server, "low one", "Low")
    const normal = await submit(server, "normal one", "Normal")
    const critical = await submit(server, "critical one", "Critical")
    const normal2 = await submit(server, "normal two", "Normal")
    const { status, body } = await server.json("/api/scheduler/tasks")
    expect(status).toBe(200)
    expect(Object.keys(body).sort()).toEqual(["queued", "running"])
    expect(body.running).toEqual([])
    const ids = body.queued.map((t: { id: string }) => t.id)
    expect(ids).toEqual([critical, normal, normal2, low])
    for (const task of body.queued) {
      for (const field of SEED_TASK_FIELDS) expect(Object.keys(task)).toContain(field)
      expect(task).toMatchObject({ status: "Queued", error: null })
      expect(Date.now() - Date.parse(task.created_at)).toBeLessThan(60_000)
    }
    expect(body.queued[0]).toMatchObject({ description: 'cron job "critical one": critical one', priority: "Critical" })
    expect((await server.json("/api/scheduler/stats")).body).toMatchObject({ queued: 4, running: 0, rate_remaining: 60 })
    const limited = await server.json("/api/scheduler/tasks?limit=2")
    expect(limited.body.queued.map((t: { id: string }) => t.id)).toEqual([critical, normal])
    for (const bad of ["0", "-1", "abc"]) {
      const refused = await server.json(`/api/scheduler/tasks?limit=${bad}`)
      expect(refused.status).toBe(400)
      expect(refused.body.error).toContain(`"limit"`)
    }
  })

  it("shows one task with everything it carries; 404 for an unknown id", async () => {
    const job = await post(server, "/api/cron-jobs", {
      name: "detailed",
      schedule: "0 0 0 1 1 *",
      goal: "Write the release notes",
      constraints: ["plain English"],
      acceptance_criteria: ["NOTES.md exists"],
      toolchain: "docs"
    })
    const run = await post(server, `/api/cron-jobs/${job.body.id}/trigger`)
    const { status, body } = await server.json(`/api/scheduler/tasks/${run.body.task_id}`)
    expect(status).toBe(200)
    expect(body).toEqual({
      id: run.body.task_id,
      description: 'cron job "detailed": Write the release notes',
      priority: "Normal",
      status: "Queued",
      created_at: expect.any(String),
      error: null,
      source: { kind: "cron", id: job.body.id },
      started_at: null,
      finished_at: null,
      goal: "Write the release notes",
      constraints: ["plain English"],
      acceptance_criteria: ["NOTES.md exists"],
      toolchain: "docs",
      summary: null,
      stream: `task-${run.body.task_id}`
    })
    const missing = await server.json("/api/scheduler/tasks/no-such-task")
    expect(missing.status).toBe(404)
    expect(missing.body.error).toContain("no-such-task")
  })
})

describe("POST /api/scheduler/tasks/{id}/cancel", () => {
  it("takes a queued task out of the queue, on the record; not twice; 404 for an unknown id", async () => {
    const id = await submit(server, "cancel me", "High")
    const queuedBefore = (await server.json("/api/scheduler/stats")).body.queued
    const { status, body } = await post(server, `/api/scheduler/tasks/${id}/cancel`)
    expect(status).toBe(200)
    expect(body).toEqual({ cancelled: id })
    expect((await server.json("/api/scheduler/stats")).body.queued).toBe(queuedBefore - 1)
    expect((await server.json("/api/scheduler/tasks")).body.queued.map((t: { id: string }) => t.id)).not.toContain(id)
    expect((await server.json(`/api/scheduler/tasks/${id}`)).body).toMatchObject({
      status: "Cancelled",
      error: "cancelled: cancelled through the API",
      finished_at: expect.any(String)
    })
    const entries = (await server.json("/api/audit/entries?from_seq=0&to_seq=1000000")).body.entries
    expect(entries.filter((e: { resource: string }) => e.resource === `task-${id}`).map((e: { action: string; agent_name: string }) => [e.action, e.agent_name]))
      .toEqual([["task_submitted", "user:api"], ["task_cancelled", "user:api"]])
    const twice = await post(server, `/api/scheduler/tasks/${id}/cancel`)
    expect(twice.status).toBe(400)
    expect(twice.body.error).toContain("Cancelled")
    expect((await post(server, "/api/scheduler/tasks/no-such-task/cancel")).status).toBe(404)
  })
})

describe("the queue across a restart", () => {
  it("keeps queued tasks, in order, and the limits", async () => {
    const s = await startServer()
    let again: RunningServer | undefined
    try {
      await s.json("/api/config", { method: "PUT", body: JSON.stringify({ scheduler: { max_concurrent: 3 } }) })
      await submit(s, "first", "Normal")
      await submit(s, "urgent", "Critical")
      const before = (await s.json("/api/scheduler/tasks")).body
      expect(before.queued).toHaveLength(2)
      await s.stop()
      again = await startServer({ dataDir: s.dataDir })
      expect((await again.json("/api/scheduler/tasks")).body).toEqual(before)
      expect((await again.json("/api/scheduler/stats")).body).toEqual({
        queued: 2,
        running: 0,
        max_concurrent: 3,
        rate_limit_per_minute: 60,
        rate_remaining: 60
      })
    } finally {
      await again?.stop()
    }
  })
})
