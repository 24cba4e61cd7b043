/**
 * Replaying a chat run on a server with programs installed: the agent calls a command tool and a
 * module tool (the docs' worked example) and an MCP server's tool (the shipped textkit), and the
 * run replays identical over HTTP and with the CLI — no program loaded in the replay, its agent
 * offered the tools its `agent_started` recorded — while an edited MCP tool result in the log
 * file comes out different at that event.
 */
import Database from "better-sqlite3"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type FakeOpenAi, startFakeOpenAi } from "../../kernel/test/fixtures/fakeOpenAi.js"
import { type GitServer, startGitServer } from "../../programs/test/fixtures/gitServer.js"
import { type FileServer, programEntries, startFileServer, tarGz } from "../../programs/test/fixtures/tarball.js"
import { docsExample, filesOf, shipped } from "../../programs/test/support.js"
import { runCli, type RunningServer, startServer, tempDir } from "./harness.js"

let fake: FakeOpenAi
let git: GitServer
let files: FileServer
let server: RunningServer
const dataDir = tempDir("annal-replay-programs-")

beforeAll(async () => {
  ;[fake, git, files] = await Promise.all([startFakeOpenAi(), startGitServer(), startFileServer()])
  server = await startServer({ dataDir, env: { ANNAL_MODEL_PATH: "", ANNAL_LLM_BASE_URL: fake.url, ANNAL_LLM_MODEL: "fake" } })
}, 60_000)
afterAll(async () => {
  await server?.stop()
  await Promise.all([fake?.close(), git?.close(), files?.close()])
})

const post = (path: string, body?: unknown) => server.json(path, { method: "POST", ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
const json = (value: unknown) => ({ text: JSON.stringify(value) })
const entries = async () => (await server.json("/api/audit/entries?from_seq=1&to_seq=100000")).body.entries as Array<any>

describe("replaying a chat run whose agent used programs' tools", () => {
  it("comes out identical over HTTP and with the CLI, the programs' tools offered as recorded; an edited MCP tool result comes out different", async () => {
    files.files.set("/notes-1.0.0.tar.gz", tarGz(programEntries("notes-1.0.0", docsExample())))
    expect(await post("/api/programs", { path: `${files.url}/notes-1.0.0.tar.gz` })).toMatchObject({ status: 200, body: { status: "installed", name: "notes" } })
    expect(await post("/api/programs", { path: git.repository("textkit", filesOf(shipped("textkit"))) })).toMatchObject({ status: 200, body: { status: "installed", name: "textkit" } })
    const plan = "# Plan for Q3\n\nShip the programs.\n\n## Goals\n\nFast installs.\n"
    expect((await server.fetch("/api/workspace/file/notes/plan.md", { method: "PUT", body: plan, headers: { "content-type": "text/plain" } })).status).toBe(200)

    fake.script.push(
      json({ goal_clarity: 1, constraints_clarity: 1, success_clarity: 1, questions: [] }),
      json({ goal: "Outline notes/plan.md and suggest a slug for its title", constraints: [], acceptance_criteria: ["`notes/plan.md` exists"], ontology: null }),
      {
        toolCalls: [
          { name: "notes__count_words", arguments: { path: "notes/plan.md" }, id: "call_count" },
          { name: "notes__headings", arguments: { path: "notes/plan.md", max_level: 2 }, id: "call_headings" },
          { name: "textkit__slugify", arguments: { text: "Plan for Q3" }, id: "call_slug" }
        ]
      },
      { text: "Eleven words, two headings, slug plan-for-q3." },
      json({ score: 0.9, passed: true })
    )
    const reply = await post("/api/chat", { content: "Outline notes/plan.md and suggest a slug" })
    expect(reply).toMatchObject({ status: 200, body: { reply: "Eleven words, two headings, slug plan-for-q3.", phase: "evaluate" } })

    const log = await entries()
    const completed = log.filter((e) => e.action === "tool_call_completed")
    expect(completed.map((e) => [e.data.tool, e.data.output])).toEqual([
      ["notes__count_words", expect.stringContaining("notes/plan.md")],
      ["notes__headings", "Plan for Q3\n  Goals"],
      ["textkit__slugify", "plan-for-q3"]
    ])
    // the agent's offer, on the record: what its first request listed, the MCP server's tools with them
    const offered = log.find((e) => e.action === "agent_started").data.tools as Array<{ name: string; parameters: unknown }>
    const agentRequest = fake.requests[fake.requests.length - 3]
    expect(offered.map((t) => t.name)).toEqual(agentRequest.tools.map((t: any) => t.function.name))
    expect(offered.find((t) => t.name === "textkit__slugify")!.parameters).toEqual(agentRequest.tools.find((t: any) => t.function.name === "textkit__slugify").function.parameters)

    const runId = String(log.find((e) => e.action === "chat_run_started").data.run_id)
    // which programs' skills briefed the agent, on the record before it was briefed
    expect(log.filter((e) => e.action === "skills_offered").map((e) => e.data)).toEqual([{ run_id: runId, generation: 0, programs: expect.arrayContaining(["notes", "textkit"]) }])
    expect(agentRequest.messages[0].content).toContain("## Program textkit")
    const asked = fake.requests.length
    const replayed = await post(`/api/chat/runs/${runId}/replay`)
    expect(replayed.status).toBe(200)
    expect(replayed.body).toEqual({ result: "identical", run_id: runId, events: expect.any(Number), unanswered: [] })
    expect(fake.requests.length).toBe(asked)
    expect((await entries()).length).toBe(log.length)

    const cli = await runCli(["replay", runId, "--data-dir", dataDir])
    expect(cli.stdout).toContain(`identical: the replay of chat run ${runId} produced the ${replayed.body.events} events the log records`)
    expect(cli.code).toBe(0)

    // stopped, the MCP tool's result is edited in the log file itself
    await server.stop()
    const db = new Database(join(dataDir, "annal.db"))
    const slug = db.prepare("SELECT seq FROM events WHERE type = 'tool_call_completed' AND json_extract(data, '$.tool') = 'textkit__slugify'").get() as { seq: number }
    db.prepare("UPDATE events SET data = json_set(data, '$.output', 'edited-slug') WHERE seq = ?").run(slug.seq)
    db.close()
    const edited = await runCli(["replay", runId, "--data-dir", dataDir])
    expect(edited.code).toBe(1)
    expect(edited.stdout).toContain(`DIFFERENT at seq ${slug.seq}`)
    expect(edited.stdout).toMatch(/expected: \{"type":"tool_call_completed".*"output":"edited-slug"/)
  }, 120_000)
})
