/**
 * Any view at any point in time: during a mixed run (a chat run with a tool call through the fake
 * model, then skills, personas, memories, permissions, budgets, cron jobs and the configuration
 * changed through the API) every view read is captured with the log's head; afterwards each one
 * asked again with `?at_seq=<that head>` must answer exactly what it answered then.
 */
import { rmSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type FakeOpenAi, startFakeOpenAi } from "../../kernel/test/fixtures/fakeOpenAi.js"
import Database from "better-sqlite3"
import { join } from "node:path"
import { runCli, type RunningServer, startServer, tempDir } from "./harness.js"

let fake: FakeOpenAi
let s: RunningServer
beforeAll(async () => {
  fake = await startFakeOpenAi()
  s = await startServer({ dataDir: tempDir(), env: { ANNAL_MODEL_PATH: "", ANNAL_LLM_BASE_URL: fake.url, ANNAL_LLM_MODEL: "fake" } })
})
afterAll(async () => {
  await s?.stop()
  await fake?.close()
  if (s !== undefined) rmSync(s.dataDir, { recursive: true, force: true })
})

const head = async () => (await s.json("/api/status")).body.components.state_store.head_seq as number
const send = async (method: string, path: string, body?: unknown) => {
  const r = await s.json(path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
  expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).toBe(200)
  return r.body
}

/** Every view read: path (with its own query) and, for POST reads, the body. */
const reads = (ids: { readonly memory?: string; readonly persona?: string; readonly cron?: string; readonly session?: string; readonly seed?: string }) => [
  { path: "/api/agents?limit=100" },
  { path: "/api/seeds?limit=100" },
  { path: "/api/sessions?limit=100" },
  { path: "/api/skills" },
  { path: "/api/skills/deploy" },
  { path: "/api/memory?limit=100" },
  { path: "/api/memory/search", body: { query: "build" } },
  { path: "/api/memory/semantic", body: { query: "which node does the build use" } },
  { path: "/api/programs" },
  { path: "/api/personas" },
  { path: "/api/personas/active" },
  { path: "/api/permissions/ops" },
  { path: "/api/budget/ops" },
  { path: "/api/approvals" },
  { path: "/api/cron-jobs" },
  { path: "/api/agent-groups" },
  { path: "/api/scheduler/tasks" },
  { path: "/api/config" },
  ...(ids.memory === undefined ? [] : [{ path: `/api/memory/${ids.memory}` }]),
  ...(ids.persona === undefined ? [] : [{ path: `/api/personas/${ids.persona}` }]),
  ...(ids.cron === undefined ? [] : [{ path: `/api/cron-jobs/${ids.cron}` }, { path: `/api/cron-jobs/${ids.cron}/runs` }]),
  ...(ids.session === undefined ? [] : [{ path: `/api/sessions/${ids.session}` }]),
  ...(ids.seed === undefined ? [] : [{ path: `/api/seeds/${ids.seed}` }, { path: `/api/seeds/${ids.seed}/evolution` }])
]

type Read = ReturnType<typeof reads>[number]
const withAtSeq = (path: string, seq: number) => `${path}${path.includes("?") ? "&" : "?"}at_seq=${seq}`
const ask = (read: Read, path = read.path) =>
  s.json(path, read.body === undefined ? {} : { method: "POST", body: JSON.stringify(read.body) })

/**
 * Fields computed from the clock: a past read computes them at its event's time, the capture a
 * moment later (a budget's remaining window can differ by the second it crossed).
 */
const CLOCK_FIELDS = new Set(["window_remaining_secs"])
/**
 * A semantic search names its engine: the live graph (`hnsw`) or, as of a past seq, an exact
 * comparison with the memories of then (`exact`); the results must be the same.
 */
const ENGINE_FIELDS = new Set(["engine"])
const stable = (body: unknown): unknown =>
  JSON.parse(JSON.stringify(body, (key, value) => (CLOCK_FIELDS.has(key) || ENGINE_FIELDS.has(key) ? undefined : value)))

/** Every `stream` a body names, at any depth. */
const streamsIn = (body: unknown): Array<string> =>
  Array.isArray(body)
    ? body.flatMap(streamsIn)
    : typeof body === "object" && body !== null
    ? Object.entries(body).flatMap(([key, value]) => (key === "stream" && typeof value === "string" ? [value] : streamsIn(value)))
    : []

describe("?at_seq: every view as it stood after event N", () => {
  it("answers what the live view answered at that moment, for every view read, during a mixed run", async () => {
    const captured: Array<{ seq: number; read: Read; status: number; body: unknown }> = []
    const ids: { memory?: string; persona?: string; cron?: string; session?: string; seed?: string } = {}
    const capture = async () => {
      for (const read of reads(ids)) {
        // the head before each read: a keyword search that finds something records the recall
        // (an event) after reading, so the reads after it see one more event
        const seq = await head()
        const r = await ask(read)
        captured.push({ seq, read, status: r.status, body: r.body })
      }
    }
    await capture()

    // a chat run: interview, seed, an agent that writes a file, an evaluation
    const json = (value: unknown) => ({ text: JSON.stringify(value) })
    await send("PUT", "/api/config", { tools: { policies: { write: "auto" } } })
    fake.script.push(
      json({ goal_clarity: 1, constraints_clarity: 1, success_clarity: 1, questions: [] }),
      json({ goal: "Write the build notes", constraints: [], acceptance_criteria: ["notes.md exists"], ontology: null }),
      { toolCalls: [{ name: "write", arguments: { path: "notes.md", content: "# Build" } }] },
      { text: "Wrote notes.md." },
      json({ score: 0.9, passed: true })
    )
    const chat = await send("POST", "/api/chat", { content: "write the build notes to notes.md" })
    ids.session = chat.session_id
    ids.seed = (await s.json("/api/seeds")).body.items[0]?.id
    await capture()

    await send("POST", "/api/skills", { name: "deploy", description: "Deploy it", content: "# Deploy\n1. build" })
    const persona = await send("POST", "/api/personas", { name: "Reviewer", role: "reviewer", description: "reviews", system_prompt: "You review." })
    ids.persona = persona.id
    await capture()
    await send("PUT", "/api/personas/active", { id: persona.id })
    ids.memory = (await send("POST", "/api/memory", { content: "the build uses node 20", tags: ["ci"] })).id
    await send("PUT", "/api/permissions/ops", { allowed_tools: ["read"], allowed_paths: ["docs/**"] })
    await send("POST", "/api/budget/ops", { token_budget: 500, calls_budget: 5, window_secs: 3600 })
    await capture()
    ids.cron = (await send("POST", "/api/cron-jobs", { name: "nightly", schedule: "0 3 * * *", goal: "rebuild the notes" })).id
    await send("POST", "/api/budget/ops/reserve", { tokens: 120 })
    await send("PUT", "/api/config", { approvals: { timeout_secs: 30 } })
    await capture()
    expect((await s.fetch(`/api/memory/${ids.memory}`, { method: "DELETE" })).status).toBe(200)
    await send("PUT", "/api/permissions/ops", { allowed_tools: ["read", "write"], allowed_paths: ["**"] })
    await capture()

    // every row names its entity's stream, and the stream is that entity's history
    const named = new Map<string, string>()
    for (const c of captured.slice(-reads(ids).length)) for (const stream of streamsIn(c.body)) named.set(stream, c.read.path)
    for (const kind of ["agent-", "seed-", "session-", "skill-", "personas", "permissions-", "budget-", "cron-"]) {
      expect([...named.keys()].some((stream) => stream.startsWith(kind)), `${kind} in ${[...named.keys()].join(" ")}`).toBe(true)
    }
    for (const [stream, path] of named) {
      const history = await s.json(`/api/log/streams/${encodeURIComponent(stream)}?limit=200`)
      expect({ path, stream, status: history.status }).toEqual({ path, stream, status: 200 })
      expect(history.body.items.every((e: { stream: string }) => e.stream === stream)).toBe(true)
    }

    const found = captured.filter((c) => c.read.path === "/api/memory/semantic" && (c.body as { count: number }).count > 0)
    expect(found.length, "a semantic search that found the memory").toBeGreaterThan(0)
    for (const c of captured) {
      const past = await ask(c.read, withAtSeq(c.read.path, c.seq))
      if (c.read.path === "/api/memory/semantic") expect([c.body, past.body]).toMatchObject([{ engine: "hnsw" }, { engine: "exact" }])
      expect({ at: c.seq, path: c.read.path, status: past.status, body: stable(past.body) }).toEqual({
        at: c.seq,
        path: c.read.path,
        status: c.status,
        body: stable(c.body)
      })
    }
  })

  it("answers 400 beyond the head or for a seq that is not a non-negative integer, and starts empty at 0", async () => {
    const now = await head()
    const beyond = await s.json(`/api/skills?at_seq=${now + 1000}`)
    expect(beyond.status).toBe(400)
    expect(beyond.body.error).toMatch(/beyond the log's head/)
    for (const bad of ["-1", "abc", "1.5", ""]) expect((await s.json(`/api/agents?at_seq=${bad}`)).status).toBe(400)
    const zero = await s.json("/api/skills?at_seq=0"); if (zero.status !== 200) console.log(s.output().slice(-3000))
    expect((await s.json("/api/skills?at_seq=0")).body).toEqual({ items: [], total: 0, page: 1, limit: 50 })
    expect((await s.json("/api/memory?at_seq=0")).body.items).toEqual([])
    // the live views are untouched by reads of the past
    expect((await s.json("/api/skills")).body.total).toBeGreaterThan(0)
  })

  it("annal views --at N writes every view as of N into a SQLite file of its own, beside the running server", async () => {
    const before = await head()
    await send("POST", "/api/skills", { name: "later", description: "after the point", content: "x" })
    const out = join(tempDir(), "views.db")
    const cli = await runCli(["views", "--data-dir", s.dataDir, "--at", String(before), "--out", out])
    expect(cli.stderr).toBe("")
    expect(cli.stdout).toMatch(new RegExp(`wrote every view as of seq ${before} to .*views\\.db \\(\\d+ events replayed\\)`))
    const db = new Database(out, { readonly: true })
    try {
      const names = (db.prepare("SELECT name FROM skills ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name)
      expect(names).toContain("deploy")
      expect(names).not.toContain("later")
      expect(db.prepare("SELECT seq FROM past_position").get()).toEqual({ seq: before })
    } finally {
      db.close()
    }
    const again = await runCli(["views", "--data-dir", s.dataDir, "--at", String(before), "--out", out])
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/exists; give a new file/)
    const beyond = await runCli(["views", "--data-dir", s.dataDir, "--at", String(before + 10_000), "--out", join(tempDir(), "v.db")])
    expect(beyond.code).toBe(1)
    expect(beyond.stderr).toMatch(/beyond the log's head/)
  })
})
