import { NOT_CONFIGURED } from "@annal/kernel"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningServer, startServer, until } from "./harness.js"

let server: RunningServer

beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.stop()
})

const post = (path: string, body?: unknown, headers?: Record<string, string>) =>
  server.json(path, { method: "POST", ...(body === undefined ? {} : { body: JSON.stringify(body) }), ...(headers === undefined ? {} : { headers }) })

const create = async (body: Record<string, unknown>) => {
  const { status, body: created } = await post("/api/cron-jobs", body)
  expect(status).toBe(200)
  return created.id as string
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The log's `cron_triggered` entries of a job (as audit entries). */
const triggers = async (s: RunningServer, id: string) => {
  const { body } = await s.json("/api/audit/entries?from_seq=0&to_seq=1000000")
  return (body.entries as Array<{ action: string; resource: string; agent_name: string; timestamp: string }>).filter((e) =>
    e.action === "cron_triggered" && e.resource === `cron-${id}`
  )
}

/** Queued tasks that a job submitted. */
const queuedOf = async (s: RunningServer, id: string) => {
  const { body } = await s.json("/api/scheduler/tasks")
  return (body.queued as Array<{ source: { kind: string; id: string } }>).filter((t) => t.source.kind === "cron" && t.source.id === id)
}

describe("POST/GET /api/cron-jobs", () => {
  it("creates a job and lists it in the seed's shape", async () => {
    const request = {
      name: "daily-backup",
      schedule: "0 0 * * * *",
      goal: "Create a backup of the workspace",
      constraints: ["Include all source files"],
      acceptance_criteria: ["Backup file exists"],
      toolchain: "default",
      priority: "Normal"
    }
    const { status, body } = await post("/api/cron-jobs", request)
    expect(status).toBe(200)
    expect(Object.keys(body)).toEqual(["id"])
    expect(body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    const list = await server.json("/api/cron-jobs")
    expect(list.status).toBe(200)
    const job = list.body.jobs.find((j: { id: string }) => j.id === body.id)
    expect(job).toMatchObject({
      id: body.id,
      name: "daily-backup",
      schedule: "0 0 * * * *",
      goal: "Create a backup of the workspace",
      constraints: ["Include all source files"],
      toolchain: "default",
      priority: "Normal",
      last_run: null,
      last_success: null,
      acceptance_criteria: ["Backup file exists"]
    })
    // the next hour, to the second, in UTC
    expect(job.next_run).toMatch(/T\d\d:00:00\.000Z$/)
    expect(Date.parse(job.next_run) - Date.now()).toBeLessThanOrEqual(3600_000)
    const one = await server.json(`/api/cron-jobs/${body.id}`)
    expect(one.status).toBe(200)
    expect(one.body).toEqual(job)
  })

  it("fills the defaults and stores a five-field schedule as six fields", async () => {
    const id = await create({ name: "minimal", schedule: "*/5 * * * *", goal: "tidy up" })
    const { body } = await server.json(`/api/cron-jobs/${id}`)
    expect(body).toMatchObject({ schedule: "0 */5 * * * *", constraints: [], acceptance_criteria: [], toolchain: "default", priority: "Normal" })
  })

  it("refuses invalid input with 400 naming the field, and creates nothing", async () => {
    const before = (await server.json("/api/cron-jobs")).body.jobs.length
    for (const [body, field] of [
      [{ name: "x", schedule: "61 * * * * *", goal: "g" }, "schedule"],
      [{ name: "x", schedule: "every day", goal: "g" }, "schedule"],
      [{ name: "x", schedule: "0 0 30 2 *", goal: "g" }, "schedule"],
      [{ name: "x", schedule: "* * * * * *" }, "goal"],
      [{ name: "", schedule: "* * * * * *", goal: "g" }, "name"],
      [{ name: "x", schedule: "* * * * * *", goal: "g", priority: "Urgent" }, "priority"],
      [{ name: "x", schedule: "* * * * * *", goal: "g", constraints: "all" }, "constraints"],
      [{ name: "x", schedule: "* * * * * *", goal: "g", bogus: 1, priority: "Urgent" }, "priority"]
    ] as const) {
      const { status, body: error } = await post("/api/cron-jobs", body)
      expect(status, JSON.stringify(body)).toBe(400)
      expect(error.error).toContain(`"${field}"`)
    }
    expect((await server.json("/api/cron-jobs")).body.jobs.length).toBe(before)
  })

  it("answers 404 to an unknown id on every route", async () => {
    for (const [method, path] of [
      ["GET", "/api/cron-jobs/nope"],
      ["DELETE", "/api/cron-jobs/nope"],
      ["POST", "/api/cron-jobs/nope/trigger"]
    ] as const) {
      const { status, body } = await server.json(path, { method })
      expect(status).toBe(404)
      expect(body.error).toContain("nope")
    }
    const edit = await post("/api/cron-jobs/nope/edit", { goal: "x" })
    expect(edit.status).toBe(404)
  })
})

describe("POST /api/cron-jobs/{id}/edit and DELETE", () => {
  it("changes only what is given, records it, and refuses bad fields", async () => {
    const id = await create({ name: "edit-me", schedule: "0 0 0 * * *", goal: "old goal", constraints: ["keep"] })
    const { status, body } = await post(`/api/cron-jobs/${id}/edit`, { schedule: "0 */6 * * * *", priority: "High" })
    expect(status).toBe(200)
    expect(body).toEqual({ updated: id })
    const job = (await server.json(`/api/cron-jobs/${id}`)).body
    expect(job).toMatchObject({ name: "edit-me", schedule: "0 */6 * * * *", priority: "High", goal: "old goal", constraints: ["keep"] })
    expect(Date.parse(job.updated_at)).toBeGreaterThan(Date.parse(job.created_at))
    const entries = (await server.json("/api/audit/entries?from_seq=0&to_seq=1000000")).body.entries
    expect(entries.filter((e: { resource: string }) => e.resource === `cron-${id}`).map((e: { action: string }) => e.action)).toEqual([
      "cron_job_created",
      "cron_job_updated"
    ])
    for (const [patch, field] of [[{ schedule: "* * *" }, "schedule"], [{ goal: 3 }, "goal"], [{ colour: "red", priority: "Urgent" }, "priority"]] as const) {
      const refused = await post(`/api/cron-jobs/${id}/edit`, patch)
      expect(refused.status).toBe(400)
      expect(refused.body.error).toContain(`"${field}"`)
    }
    // a field it does not know is ignored: nothing to change
    expect((await post(`/api/cron-jobs/${id}/edit`, { colour: "red" })).status).toBe(200)
    expect((await server.json(`/api/cron-jobs/${id}`)).body).toEqual(job)
  })

  it("deletes a job: {deleted}, then 404", async () => {
    const id = await create({ name: "delete-me", schedule: "0 0 0 * * *", goal: "g" })
    const { status, body } = await server.json(`/api/cron-jobs/${id}`, { method: "DELETE" })
    expect(status).toBe(200)
    expect(body).toEqual({ deleted: id })
    expect((await server.json(`/api/cron-jobs/${id}`)).status).toBe(404)
    expect((await server.json(`/api/cron-jobs/${id}`, { method: "DELETE" })).status).toBe(404)
    expect((await server.json("/api/cron-jobs")).body.jobs.map((j: { id: string }) => j.id)).not.toContain(id)
  })
})

describe("POST /api/cron-jobs/{id}/trigger", () => {
  it("submits the goal to the scheduler and says honestly that it waits for a runtime", async () => {
    const id = await create({ name: "by-hand", schedule: "0 0 0 1 1 *", goal: "Summarise the logs", priority: "High" })
    const { status, body } = await post(`/api/cron-jobs/${id}/trigger`)
    expect(status).toBe(200)
    expect(body).toEqual({
      job_id: id,
      success: true,
      summary: `submitted as task ${body.task_id}; queued (${NOT_CONFIGURED})`,
      task_id: expect.any(String)
    })
    const queued = await queuedOf(server, id)
    expect(queued).toEqual([
      {
        id: body.task_id,
        description: 'cron job "by-hand": Summarise the logs',
        priority: "High",
        status: "Queued",
        created_at: expect.any(String),
        error: null,
        source: { kind: "cron", id },
        started_at: null,
        finished_at: null,
        stream: `task-${body.task_id}`
      }
    ])
    const job = (await server.json(`/api/cron-jobs/${id}`)).body
    expect(job).toMatchObject({ last_task_id: body.task_id, last_success: null })
    expect(Date.parse(job.last_run)).toBeLessThanOrEqual(Date.parse((queued[0] as unknown as { created_at: string }).created_at))
    const [entry] = await triggers(server, id)
    expect(entry).toMatchObject({ action: "cron_triggered", agent_name: "user:api" })
  })

  it("runs once per Idempotency-Key", async () => {
    const id = await create({ name: "once", schedule: "0 0 0 1 1 *", goal: "g" })
    const headers = { "idempotency-key": `trigger-${id}` }
    const first = await post(`/api/cron-jobs/${id}/trigger`, undefined, headers)
    const again = await post(`/api/cron-jobs/${id}/trigger`, undefined, headers)
    expect(again.body).toEqual(first.body)
    expect(await triggers(server, id)).toHaveLength(1)
    expect(await queuedOf(server, id)).toHaveLength(1)
  })
})

describe("GET /api/cron-jobs/{id}/runs", () => {
  const head = async () => (await server.json("/api/status")).body.components.state_store.head_seq as number

  it("lists a job's runs newest first with what became of each task, paged and as of any seq; 404 for no job", async () => {
    const id = await create({ name: "with-runs", schedule: "0 0 0 1 1 *", goal: "count the files" })
    expect((await server.json(`/api/cron-jobs/${id}/runs`)).body).toEqual({ items: [], total: 0, page: 1, limit: 50 })
    const first = (await post(`/api/cron-jobs/${id}/trigger`)).body.task_id as string
    const afterFirst = await head()
    const second = (await post(`/api/cron-jobs/${id}/trigger`)).body.task_id as string
    const cancelled = await post(`/api/scheduler/tasks/${first}/cancel`)
    expect(cancelled.status).toBe(200)

    const { status, body } = await server.json(`/api/cron-jobs/${id}/runs`)
    expect(status).toBe(200)
    expect(body).toEqual({
      items: [
        {
          task_id: second,
          job_id: id,
          seq: expect.any(Number),
          at: expect.any(String),
          reason: "manual",
          status: "queued",
          outcome: null,
          ended_at: null,
          stream: `task-${second}`
        },
        {
          task_id: first,
          job_id: id,
          seq: expect.any(Number),
          at: expect.any(String),
          reason: "manual",
          status: "cancelled",
          outcome: "cancelled through the API",
          ended_at: expect.any(String),
          stream: `task-${first}`
        }
      ],
      total: 2,
      page: 1,
      limit: 50
    })
    // each run names the cron_triggered event it began with
    const entries = (await triggers(server, id)) as unknown as Array<{ seq: number; data: { task_id: string } }>
    expect(body.items.map((r: { seq: number }) => r.seq)).toEqual([second, first].map((t) => entries.find((e) => e.data.task_id === t)!.seq))
    expect(Date.parse(body.items[1].ended_at)).toBeGreaterThanOrEqual(Date.parse(body.items[1].at))
    // a run's stream is its task's history: submitted, then cancelled
    const history = await server.json(`/api/log/streams/${body.items[1].stream}`)
    expect(history.body.items.map((e: { type: string }) => e.type)).toEqual(["task_cancelled", "task_submitted"])

    const paged = await server.json(`/api/cron-jobs/${id}/runs?limit=1&page=2`)
    expect(paged.body).toEqual({ items: [body.items[1]], total: 2, page: 2, limit: 1 })
    const past = await server.json(`/api/cron-jobs/${id}/runs?at_seq=${afterFirst}`)
    expect(past.body).toEqual({ items: [{ ...body.items[1], status: "queued", outcome: null, ended_at: null }], total: 1, page: 1, limit: 50 })

    const unknown = await server.json("/api/cron-jobs/nope/runs")
    expect(unknown.status).toBe(404)
    expect(unknown.body.error).toContain("nope")
    // a deleted job's runs go with it
    await server.json(`/api/cron-jobs/${id}`, { method: "DELETE" })
    expect((await server.json(`/api/cron-jobs/${id}/runs`)).status).toBe(404)
  })
})

describe("jobs fire on their schedule", () => {
  it("an every-second job appends cron_triggered and queues a task; deleting it stops it", async () => {
    const id = await create({ name: "every-second", schedule: "* * * * * *", goal: "tick" })
    const fired = await until("triggers of the job", () => triggers(server, id), (t) => t.length >= 1, { timeoutMs: 3500, everyMs: 100 })
    expect(fired[0]).toMatchObject({ agent_name: "system:cron", allowed: true })
    const queued = await until("queuedOf of the job", () => queuedOf(server, id), (q) => q.length >= 1, { timeoutMs: 1000, everyMs: 100 })
    expect(queued[0]).toMatchObject({ status: "Queued", source: { kind: "cron", id } })
    expect((await server.json(`/api/cron-jobs/${id}`)).body.last_run).not.toBeNull()

    await server.json(`/api/cron-jobs/${id}`, { method: "DELETE" })
    const count = (await triggers(server, id)).length
    await pause(2500)
    expect((await triggers(server, id)).length).toBe(count)
    expect((await queuedOf(server, id)).length).toBe(count)
  })

  it("jobs and their timers survive a restart", async () => {
    const s = await startServer()
    let again: RunningServer | undefined
    try {
      const created = await s.json("/api/cron-jobs", { method: "POST", body: JSON.stringify({ name: "survivor", schedule: "* * * * * *", goal: "tick" }) })
      const id = created.body.id as string
      await until("triggers of the job", () => triggers(s, id), (t) => t.length >= 1, { timeoutMs: 3500, everyMs: 100 })
      const before = (await s.json(`/api/cron-jobs/${id}`)).body
      await s.stop()
      const stoppedAt = new Date().toISOString()
      again = await startServer({ dataDir: s.dataDir })
      const after = (await again.json(`/api/cron-jobs/${id}`)).body
      const { next_run: _n1, last_run: _r1, last_task_id: _t1, ...stable } = before
      expect(after).toMatchObject(stable)
      // re-scheduled from the view: it fires again after the restart
      await until("triggers of the job", () => triggers(again!, id), (t) => t.some((e) => e.timestamp > stoppedAt), { timeoutMs: 3500, everyMs: 100 })
      await again.json(`/api/cron-jobs/${id}`, { method: "DELETE" })
    } finally {
      await again?.stop()
    }
  })
})
