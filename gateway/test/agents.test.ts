/**
 * Agents over HTTP (seed section 4) against the real server with a fake OpenAI-compatible model:
 * a cron trigger submits a task, the supervisor's runner runs it as an agent, and the API lists
 * and kills it; a crash leaves it Failed on the next start.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type FakeOpenAi, startFakeOpenAi } from "../../kernel/test/fixtures/fakeOpenAi.js"
import { type RunningServer, startServer, startServerProcess, tempDir, until } from "./harness.js"

let fake: FakeOpenAi
let server: RunningServer
const dataDir = tempDir()
const env = () => ({ ANNAL_MODEL_PATH: "", ANNAL_LLM_BASE_URL: fake.url, ANNAL_LLM_MODEL: "fake" })

beforeAll(async () => {
  fake = await startFakeOpenAi()
  // a process of its own: the last test crashes it with kill -9 (the restart runs here)
  server = await startServerProcess({ dataDir, env: env() })
})
afterAll(async () => {
  await server?.stop()
  await fake?.close()
})

const post = (s: RunningServer, path: string, body?: unknown) =>
  s.json(path, { method: "POST", ...(body === undefined ? {} : { body: JSON.stringify(body) }) })

/** Triggers a cron job whose goal is `goal`: the scheduler runs it as an agent. */
const runGoal = async (s: RunningServer, goal: string) => {
  const created = await post(s, "/api/cron-jobs", { name: goal.toLowerCase().replace(/\W+/g, "-"), schedule: "0 0 0 1 1 *", goal })
  expect(created.status).toBe(200)
  const triggered = await post(s, `/api/cron-jobs/${created.body.id}/trigger`)
  expect(triggered.status).toBe(200)
  return triggered.body.task_id as string
}

const agentNamed = async (s: RunningServer, name: string) =>
  ((await s.json("/api/agents?limit=500")).body.items as Array<any>).find((a) => a.name.endsWith(name))

describe("GET /api/agents", () => {
  it("lists agents in the seed's shape, paginated", async () => {
    fake.script.push({ text: "All quiet." })
    const taskId = await runGoal(server, "Summarise the logs")
    const task = await until("the task to complete", () => server.json(`/api/scheduler/tasks/${taskId}`), (r) => r.body.status === "Completed")
    expect(task.body).toMatchObject({ status: "Completed", summary: "All quiet." })
    const { status, body } = await server.json("/api/agents?page=1&limit=10")
    expect(status).toBe(200)
    expect(body).toEqual({
      items: [{ id: expect.any(String), name: 'cron job "summarise-the-logs": Summarise the logs', status: "Stopped", created_at: expect.any(String), seed_id: null, stream: expect.stringMatching(/^agent-/) }],
      total: 1,
      page: 1,
      limit: 10
    })
    expect(Object.keys(body.items[0]).sort()).toEqual(["created_at", "id", "name", "seed_id", "status", "stream"])
    expect((await server.json("/api/agents?page=2&limit=10")).body).toEqual({ items: [], total: 1, page: 2, limit: 10 })
    expect((await server.json("/api/agents?limit=abc")).status).toBe(400)
    expect((await server.json("/api/agents", { token: null })).status).toBe(401)
  })
})

describe("POST /api/agents/{id}/kill", () => {
  it("kills a running agent: 200 with an empty body, the model request aborted, the agent Stopped", async () => {
    fake.script.push({ text: "one two three four five six seven eight nine ten", delayMs: 400 })
    const before = fake.requests.length
    const taskId = await runGoal(server, "Talk slowly")
    await until("a model request", () => fake.requests.length, (n) => n > before)
    const running = await until("the agent to run", () => agentNamed(server, "Talk slowly"), (a) => a?.status === "Running")
    expect(running.status).toBe("Running")
    expect((await server.json("/api/status")).body.components.agents).toMatchObject({ active_count: 1, total_forked: 2 })

    const response = await server.fetch(`/api/agents/${running.id}/kill`, { method: "POST" })
    expect(response.status).toBe(200)
    expect(await response.text()).toBe("")
    expect((await agentNamed(server, "Talk slowly")).status).toBe("Stopped")
    await until("the model request to be aborted", () => fake.aborted(), (n) => n >= 1)
    expect(fake.aborted()).toBeGreaterThanOrEqual(1)
    const task = await until("the task to fail", () => server.json(`/api/scheduler/tasks/${taskId}`), (r) => r.body.status === "Failed")
    expect(task.body.error).toContain("killed")

    // killing an agent that is over is a no-op; an unknown one is 404
    expect((await server.fetch(`/api/agents/${running.id}/kill`, { method: "POST" })).status).toBe(200)
    const unknown = await post(server, "/api/agents/agent-unknown/kill")
    expect(unknown.status).toBe(404)
    expect(unknown.body.error).toContain("agent-unknown")
  })

  it("a crash leaves a running agent Failed on the next start, and the list persists", async () => {
    fake.script.push({ text: "a b c d e f g h i j k l", delayMs: 400 })
    const before = fake.requests.length
    await runGoal(server, "Cut off")
    await until("a model request", () => fake.requests.length, (n) => n > before)
    await until("the agent to run", () => agentNamed(server, "Cut off"), (a) => a?.status === "Running")
    await server.crash()
    server = await startServer({ dataDir, env: env() })
    const agent = await agentNamed(server, "Cut off")
    expect(agent.status).toBe("Failed")
    expect((await server.json("/api/agents")).body.total).toBe(3)
    // one completed, one killed (stopped), one failed; none live
    expect((await server.json("/api/status")).body.components.agents).toEqual({ active_count: 0, total_forked: 3, total_completed: 1, total_failed: 1 })
    const events = (await server.json("/api/audit/entries?from_seq=0&to_seq=1000000")).body.entries as Array<{ action: string; resource: string }>
    expect(events.filter((e) => e.action === "agent_failed" && e.resource === `agent-${agent.id}`)).toHaveLength(1)
  }, 60_000)
})
