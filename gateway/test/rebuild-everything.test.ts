/**
 * Every view is a projection of the log: after a run that touches every bounded context through
 * the API (and, for state only the agent runtime writes, through the kernel), every view table
 * has rows, survives a restart unchanged, and `annal rebuild` replays the log into identical
 * tables.
 */
import { AgentGroups, Approvals, INTERVIEW_PROMPT, Kernel, Orchestrator, Seeds, Sessions, Supervisor, ToolGate } from "@annal/kernel"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { startFakeOpenAi } from "../../kernel/test/fixtures/fakeOpenAi.js"
import { programEntries, startFileServer, tarGz } from "../../programs/test/fixtures/tarball.js"
import { docsExample } from "../../programs/test/support.js"
import { runCli, type RunningServer, startServer } from "./harness.js"
import { withKernel } from "./offline.js"

const ok = async (s: RunningServer, path: string, init: { method?: string; body?: unknown; raw?: string } = {}) => {
  const response = await s.fetch(path, {
    method: init.method ?? "GET",
    ...(init.raw !== undefined ? { body: init.raw, headers: { "content-type": "text/plain" } } : {}),
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {})
  })
  const text = await response.text()
  expect(response.status, `${init.method ?? "GET"} ${path}: ${text}`).toBe(200)
  return text === "" ? undefined : JSON.parse(text)
}

/** Rows per view table, and a dump of each, read straight from the database file. */
const dumpViews = (dataDir: string) => {
  const db = new Database(join(dataDir, "annal.db"), { readonly: true })
  try {
    const tables = Kernel.projections.flatMap((p) => p.tables.map((t) => t.name))
    return Object.fromEntries(tables.map((t) => [t, db.prepare(`SELECT * FROM "${t}" ORDER BY rowid`).all()]))
  } finally {
    db.close()
  }
}

describe("every view after a run through every context", () => {
  it("has rows, survives a restart and comes out identical from annal rebuild", async () => {
    const first = await startServer()
    const dataDir = first.dataDir
    try {
      await ok(first, "/api/config", { method: "PUT", body: { security: { rate_limit_per_minute: 100000 } } })
      await first.fetch("/api/status", { token: "wrong" })
      const memory = await ok(first, "/api/memory", { method: "POST", body: { content: "The event log is hash-chained.", tags: ["log"] } })
      await ok(first, "/api/memory", { method: "POST", body: { content: "Projections rebuild every view.", memory_type: "knowledge" } })
      await ok(first, "/api/memory/search", { method: "POST", body: { query: "hash chain" } })
      await ok(first, "/api/memory/semantic", { method: "POST", body: { query: "how are views rebuilt?" } })
      await ok(first, `/api/memory/${memory.id}`, { method: "DELETE" })
      await ok(first, "/api/skills", { method: "POST", body: { name: "deploy", description: "Ship it", content: "# Deploy\n1. test\n2. ship" } })
      const persona = await ok(first, "/api/personas", { method: "POST", body: { name: "Reviewer", role: "Code Reviewer", description: "Careful" } })
      await ok(first, `/api/personas/${persona.id}`, { method: "PUT", body: { system_prompt: "Review carefully." } })
      await ok(first, "/api/personas/active", { method: "PUT", body: { id: persona.id } })
      await ok(first, "/api/permissions/builder", { method: "PUT", body: { network_access: true } })
      await ok(first, "/api/budget/builder", { method: "POST", body: { token_budget: 1000, calls_budget: 10, window_secs: 3600 } })
      await ok(first, "/api/budget/builder/reserve", { method: "POST", body: { tokens: 100 } })
      const job = await ok(first, "/api/cron-jobs", { method: "POST", body: { name: "nightly", schedule: "0 0 3 * * *", goal: "Summarise the day" } })
      await ok(first, `/api/cron-jobs/${job.id}/trigger`, { method: "POST" })
      await ok(first, "/api/workspace/file/notes/a.md", { method: "PUT", raw: "first" })
      await ok(first, "/api/workspace/file/notes/a.md", { method: "PUT", raw: "second" })
      const log = await ok(first, "/api/git/log")
      const older = log.entries.find((e: { message: string }) => e.message.includes("notes/a.md") && log.entries.indexOf(e) > 0)
      await ok(first, "/api/git/restore", { method: "POST", body: { hash: older.hash, path: "notes/a.md" } })
      const tarballs = await startFileServer(new Map([["/notes.tgz", tarGz(programEntries("notes", docsExample()))]]))
      try {
        await ok(first, "/api/programs", { method: "POST", body: { path: `${tarballs.url}/notes.tgz` } })
      } finally {
        await tarballs.close()
      }
      await ok(first, "/api/programs/notes/disable", { method: "POST" })
      await ok(first, "/api/programs/notes/enable", { method: "POST" })
    } finally {
      await first.stop()
    }

    // what only the agent runtime writes: seeds, sessions, agent groups, approvals, agents, chat runs
    // the interview is answered; anything else (the queued cron task's agent, the agent below) gets a 500
    const fake = await startFakeOpenAi(
      Array.from({ length: 10 }, () => (body: any) =>
        body.messages[0]?.content === INTERVIEW_PROMPT
          ? { text: JSON.stringify({ goal_clarity: 0.2, constraints_clarity: 0.2, success_clarity: 0.2, questions: ["Which API?"] }) }
          : { status: 500 })
    )
    await withKernel(
      dataDir,
      Effect.gen(function*() {
        const context = { actor: "system" }
        const seeds = yield* Seeds
        const root = yield* seeds.create({ goal: "Build a REST API", constraints: ["Use tests"], acceptance_criteria: ["GET /health answers"] }, context)
        yield* seeds.recordEvaluation(root.id, { score: 0.6, passed: false }, context)
        const child = yield* seeds.create({ goal: "Build a REST API with tests", parent_seed_id: root.id }, context)
        yield* seeds.recordEvaluation(child.id, { score: 0.9, passed: true }, context)
        const sessions = yield* Sessions
        const message = yield* sessions.recordUserMessage(undefined, { content: "Build it", user_id: "alice" }, context)
        yield* sessions.recordResponse(message.session_id, { content: "Done", seed_id: child.id, phase_reached: "evaluate", evaluation_passed: true }, context)
        const groups = yield* AgentGroups
        const group = yield* groups.create({ name: "parallel", agent_ids: ["a1", "a2"] }, context)
        yield* groups.memberCompleted(group.id, "a1", { success: true }, context)
        const gate = yield* ToolGate
        const read = yield* gate.call("builder", { id: "call-1", name: "read", arguments: JSON.stringify({ path: "notes/a.md" }) }, context)
        expect(read).toMatchObject({ status: "completed", is_error: false, content: expect.stringContaining("first") })
        const approvals = yield* Approvals
        yield* approvals.request({ subject: "agent:builder", action: "use_tool:exec", resource: "rm -rf /tmp/x", reason: "blacklisted command" }, context)
        // a chat run that ends in the interview
        const asked = yield* (yield* Orchestrator).run({ content: "build an API" }, context)
        expect(asked).toMatchObject({ phase: "interview", reply: "Which API?" })
        // the model has nothing scripted for it: the agent is created, started and failed with the reason, all on the record
        const failed = yield* Effect.flip((yield* Supervisor).run({ name: "offline", goal: "anything" }, context))
        expect(failed._tag).toBe("AgentRunFailed")
      }),
      fake.url
    ).finally(() => fake.close())

    const live = dumpViews(dataDir)
    const empty = Object.entries(live).filter(([, rows]) => rows.length === 0).map(([t]) => t)
    expect(empty, "every view table has rows after the run").toEqual([])

    const again = await startServer({ dataDir })
    try {
      expect((await ok(again, "/api/audit/verify")).valid).toBe(true)
      expect((await ok(again, "/api/personas/active")).name).toBe("Reviewer")
      expect((await ok(again, "/api/skills/deploy")).content).toContain("# Deploy")
      expect(await ok(again, "/api/programs/notes")).toMatchObject({ enabled: true, offered: true })
    } finally {
      await again.stop()
    }
    // a restart recomputes nothing behind the log's back
    expect(dumpViews(dataDir)).toEqual(live)
    const rebuilt = await runCli(["rebuild", "--data-dir", dataDir])
    expect(rebuilt.stdout).toContain("views equal to the live ones")
    expect(rebuilt.code).toBe(0)
    for (const table of Object.keys(live)) expect(rebuilt.stdout).toMatch(new RegExp(`equal +${table}:`))
  }, 180_000)
})
