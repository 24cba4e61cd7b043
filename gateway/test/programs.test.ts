/**
 * Programs (seed section 9) against the real server: every endpoint in the seed's shapes and its
 * errors, installs from a real git server and a real tarball server, the CLI through a running
 * server and on a stopped one (never two writers), and a chat in which an agent calls a
 * command tool, a module tool and an MCP tool — of the worked example in docs/programs.md and
 * the shipped textkit program.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type FakeOpenAi, startFakeOpenAi } from "../../kernel/test/fixtures/fakeOpenAi.js"
import { type GitServer, startGitServer } from "../../programs/test/fixtures/gitServer.js"
import { type FileServer, programEntries, startFileServer, tarGz } from "../../programs/test/fixtures/tarball.js"
import { docsExample, filesOf, shipped } from "../../programs/test/support.js"
import { runCli, type RunningServer, startServer, startServerProcess, tempDir } from "./harness.js"
import { sseFrames } from "./offline.js"

let fake: FakeOpenAi
let git: GitServer
let files: FileServer
let server: RunningServer

const post = (path: string, body?: unknown, init: { token?: string | null } = {}) =>
  server.json(path, { method: "POST", ...(body === undefined ? {} : { body: JSON.stringify(body) }), ...init })
const serve = (path: string, archive: Buffer) => {
  files.files.set(path, archive)
  return `${files.url}${path}`
}

beforeAll(async () => {
  ;[fake, git, files] = await Promise.all([startFakeOpenAi(), startGitServer(), startFileServer()])
  server = await startServer({ dataDir: tempDir(), env: { ANNAL_MODEL_PATH: "", ANNAL_LLM_BASE_URL: fake.url, ANNAL_LLM_MODEL: "fake" } })
}, 60_000)
afterAll(async () => {
  await server?.stop()
  await Promise.all([fake?.close(), git?.close(), files?.close()])
})

describe("the programs API", () => {
  it("installs the docs' worked example from a tarball and the textkit MCP program from git", async () => {
    expect((await server.json("/api/programs")).body).toEqual({ items: [], total: 0, page: 1, limit: 50 })
    const tarball = serve("/notes-1.0.0.tar.gz", tarGz(programEntries("notes-1.0.0", docsExample())))
    expect(await post("/api/programs", { path: tarball })).toMatchObject({ status: 200, body: { status: "installed", name: "notes", version: "1.0.0" } })
    const repo = git.repository("textkit", filesOf(shipped("textkit")))
    expect(await post("/api/programs", { path: repo })).toMatchObject({ status: 200, body: { status: "installed", name: "textkit", version: "1.0.0" } })

    const list = await server.json("/api/programs")
    expect(list.body).toEqual({
      items: [
        { name: "notes", version: "1.0.0", description: expect.stringContaining("Markdown notes"), author: "You", enabled: true, tools_count: 2, has_skill_content: true, stream: "program-notes" },
        { name: "textkit", version: "1.0.0", description: expect.stringContaining("MCP server"), author: "Annal", enabled: true, tools_count: 2, has_skill_content: true, stream: "program-textkit" }
      ],
      total: 2,
      page: 1,
      limit: 50
    })
    const notes = await server.json("/api/programs/notes")
    expect(notes.status).toBe(200)
    expect(notes.body).toEqual({
      name: "notes",
      version: "1.0.0",
      description: expect.any(String),
      author: "You",
      enabled: true,
      tools: [
        {
          name: "count_words",
          description: "How many words a workspace file has",
          kind: "command",
          tool_name: "notes__count_words",
          arguments: [{ name: "path", description: "the note, relative to the workspace", type: "path", required: true }],
          runnable: true,
          reason: null
        },
        {
          name: "headings",
          description: "The headings of a Markdown note, indented by level",
          kind: "module",
          tool_name: "notes__headings",
          arguments: [
            { name: "path", description: "the note, relative to the workspace", type: "path", required: true },
            { name: "max_level", description: "the deepest heading level to list", type: "integer", required: false, default: 3 }
          ],
          runnable: true,
          reason: null
        }
      ],
      skill_content: docsExample()["SKILL.md"],
      path: join(server.dataDir, "programs", "notes"),
      source: tarball,
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      offered: true,
      not_offered_reason: null,
      stream: "program-notes"
    })
    const textkit = (await server.json("/api/programs/textkit")).body
    expect(textkit.tools.map((t: { tool_name: string; kind: string }) => `${t.kind}:${t.tool_name}`)).toEqual(["mcp:textkit__slugify", "mcp:textkit__word_frequencies"])
    expect(textkit.source).toMatch(new RegExp(`^${repo}#[0-9a-f]{40}$`))
    expect((await server.json("/api/programs/notes/host-requirements")).body).toEqual({
      program_name: "notes",
      all_required_present: true,
      missing_required: [],
      optional_available: {},
      missing_tools: []
    })
  }, 60_000)

  it("refuses bad sources and bad programs with 400 naming what was wrong, a taken name with 409", async () => {
    const cases: Array<[unknown, number, string]> = [
      [{ path: "git@github.com:someone/program.git" }, 400, "ssh URLs are not supported"],
      [{ path: "/etc" }, 400, "local paths cannot be installed through the API"],
      [{ path: `https://example.com/${"x".repeat(8200)}.tgz` }, 400, 'invalid field "path"'],
      [{ path: 42 }, 400, '"path"'],
      [{ path: 42, extra: true }, 400, '"path"'],
      [{ path: serve("/bad.tgz", tarGz(programEntries("bad", { "program.toml": '[program]\nname = "bad"\nversion = "1"\nauthor = "x"\n' }))) }, 400, 'invalid field "program.description"'],
      [{ path: serve("/evil.tgz", tarGz([...programEntries("e", docsExample()), { path: "e/../../x", data: "x" }])) }, 400, '".." segment'],
      [{ path: serve("/notes-again.tgz", tarGz(programEntries("n", docsExample()))) }, 409, "program already exists: notes"]
    ]
    for (const [body, status, message] of cases) {
      const response = await post("/api/programs", body)
      expect(response.status, JSON.stringify(body).slice(0, 100)).toBe(status)
      expect(Object.keys(response.body)).toEqual(["error"])
      expect(response.body.error).toContain(message)
    }
    expect((await server.json("/api/programs/nope")).status).toBe(404)
    expect((await server.json("/api/programs/nope/host-requirements")).status).toBe(404)
    expect((await post("/api/programs/nope/enable")).status).toBe(404)
    expect((await server.json("/api/programs", { token: null })).status).toBe(401)
    expect((await server.json("/api/programs")).body.total).toBe(2)
  }, 60_000)
})

describe("an Idempotency-Key", () => {
  it("answers a retried install as the first time and installs once", async () => {
    const renamed = { ...docsExample(), "program.toml": docsExample()["program.toml"]!.replace('name = "notes"', 'name = "notes-copy"') }
    const path = serve("/notes-copy.tgz", tarGz(programEntries("n", renamed)))
    const headers = { "idempotency-key": "install-notes-copy-1" }
    const first = await server.json("/api/programs", { method: "POST", body: JSON.stringify({ path }), headers })
    const retry = await server.json("/api/programs", { method: "POST", body: JSON.stringify({ path }), headers })
    expect(first).toMatchObject({ status: 200, body: { status: "installed", name: "notes-copy", version: "1.0.0" } })
    expect(retry.status).toBe(200)
    expect(retry.body).toEqual(first.body)
    expect((await server.json("/api/programs/notes-copy", { method: "DELETE" })).status).toBe(200)
  }, 30_000)
})

describe("a chat whose agent uses program tools", () => {
  it("calls a command tool, a module tool and an MCP tool, each through the gate and on the record", async () => {
    const plan = "# Plan for Q3\n\nShip the programs.\n\n## Goals\n\nFast installs.\n\n### Details\n\nMore.\n"
    expect((await server.fetch("/api/workspace/file/notes/plan.md", { method: "PUT", body: plan, headers: { "content-type": "text/plain" } })).status).toBe(200)
    const json = (value: unknown) => ({ text: JSON.stringify(value) })
    fake.script.push(
      json({ goal_clarity: 1, constraints_clarity: 1, success_clarity: 1, questions: [] }),
      json({ goal: "Outline the notes in notes/plan.md and suggest a slug for its title", constraints: [], acceptance_criteria: ["`notes/plan.md` exists"], ontology: null }),
      {
        toolCalls: [
          { name: "notes__count_words", arguments: { path: "notes/plan.md" } },
          { name: "notes__headings", arguments: { path: "notes/plan.md", max_level: 2 } },
          { name: "textkit__slugify", arguments: { text: "Plan for Q3" } }
        ]
      },
      { text: "The plan has 14 words, two headings, slug plan-for-q3." },
      json({ score: 0.9, passed: true })
    )
    const reply = await post("/api/chat", { content: "Outline notes/plan.md and suggest a slug" })
    expect(reply.status).toBe(200)
    expect(reply.body).toMatchObject({ reply: "The plan has 14 words, two headings, slug plan-for-q3.", phase: "evaluate" })
    expect(fake.script).toHaveLength(0)

    // the agent was offered the programs' tools with their schemas, and the notes skill (its goal names notes) in its instructions
    const agentRequest = fake.requests[fake.requests.length - 3]
    const tools = Object.fromEntries(agentRequest.tools.map((t: any) => [t.function.name, t.function.parameters]))
    expect(tools["notes__count_words"]).toMatchObject({ type: "object", required: ["path"], properties: { path: { type: "string" } } })
    expect(tools["notes__headings"]).toMatchObject({ required: ["path"], properties: { max_level: { type: "integer" } } })
    expect(tools["textkit__slugify"]).toMatchObject({ type: "object", required: ["text"] })
    const system = agentRequest.messages.find((m: any) => m.role === "system").content
    expect(system).toContain("## Program notes")
    expect(system).toContain("notes__headings")
    expect(system).toContain("## Program textkit")

    // the results went back to the model
    const results = fake.requests[fake.requests.length - 2].messages.filter((m: any) => m.role === "tool").map((m: any) => m.content)
    expect(results).toEqual(["14 notes/plan.md\n\n[exit code 0]", "Plan for Q3\n  Goals", "plan-for-q3"])

    const frames = await sseFrames(server, ["tool_call_completed"], (f) => f.length >= 3)
    expect(frames.map((f) => [f.tool, f.status])).toEqual([
      ["notes__count_words", "completed"],
      ["notes__headings", "completed"],
      ["textkit__slugify", "completed"]
    ])
  }, 60_000)

  it("takes a disabled program's tools away from agents at once", async () => {
    expect(await post("/api/programs/textkit/disable")).toEqual(expect.objectContaining({ status: 200, body: { status: "disabled", name: "textkit" } }))
    expect((await server.json("/api/programs")).body.items.find((p: any) => p.name === "textkit").enabled).toBe(false)
    expect((await server.json("/api/programs/textkit")).body).toMatchObject({ enabled: false, offered: false, not_offered_reason: "the program is disabled" })
    const seen: Array<ReadonlyArray<string>> = []
    fake.script.push(
      { text: JSON.stringify({ goal_clarity: 1, constraints_clarity: 1, success_clarity: 1, questions: [] }) },
      { text: JSON.stringify({ goal: "Slugify a title", constraints: [], acceptance_criteria: ["a slug is given"], ontology: null }) },
      (body: any) => {
        seen.push(body.tools.map((t: any) => t.function.name))
        return { toolCalls: [{ name: "textkit__slugify", arguments: { text: "x" } }] }
      },
      (body: any) => ({ text: String(body.messages.filter((m: any) => m.role === "tool").at(-1)?.content) }),
      { text: JSON.stringify({ score: 1, passed: true }) }
    )
    const reply = await post("/api/chat", { content: "Slugify a title" })
    expect(reply.status).toBe(200)
    expect(seen[0]).not.toContain("textkit__slugify")
    expect(seen[0]).toContain("notes__headings")
    expect(reply.body.reply).toBe('error: unknown tool "textkit__slugify"')
    expect(await post("/api/programs/textkit/enable")).toEqual(expect.objectContaining({ status: 200, body: { status: "enabled", name: "textkit" } }))
    expect((await server.json("/api/programs/textkit")).body.offered).toBe(true)
  }, 60_000)
})

describe("annal programs install", () => {
  it("installs through the running server, which alone writes the log", async () => {
    // the lock and the hand-over are between processes: a server of its own
    const s = await startServerProcess()
    try {
      const cli = await runCli(["programs", "install", "--data-dir", s.dataDir, shipped("text-stats")])
      expect(cli.stderr).toBe("")
      expect(cli.stdout).toBe(`installed text-stats 1.0.0 through the server at ${s.url}\n`)
      expect(cli.code).toBe(0)
      expect((await s.json("/api/programs/text-stats")).body).toMatchObject({ source: shipped("text-stats"), offered: true })
      const again = await runCli(["programs", "install", "--data-dir", s.dataDir, shipped("text-stats")])
      expect(again.code).toBe(1)
      expect(again.stderr).toContain("program already exists: text-stats (HTTP 409)")
      // the route the CLI uses wants the secret in the lock, not the API token
      const forged = await s.json("/api/programs/local-install", { method: "POST", body: JSON.stringify({ source: "/x", archive_base64: "AA==" }) })
      expect(forged.status).toBe(401)
      const lock = JSON.parse(readFileSync(join(s.dataDir, "annal.lock"), "utf8"))
      expect(lock).toMatchObject({ pid: s.process.pid, owner: "server", url: s.url, secret: expect.stringMatching(/^[0-9a-f]{64}$/) })
      // a second server on the same data directory is refused
      const second = await runCli(["serve", "--port", "0", "--data-dir", s.dataDir])
      expect(second.code).toBe(1)
      expect(second.stderr).toContain(`is in use by a running annal server (pid ${s.process.pid})`)
    } finally {
      await s.stop()
    }
  }, 60_000)

  it("installs on a stopped server's data directory itself, and the server sees it at its next start", async () => {
    const dataDir = tempDir()
    const first = await startServer({ dataDir })
    await first.stop()
    const cli = await runCli(["programs", "install", "--data-dir", dataDir, shipped("code-review")])
    expect(cli.stdout).toBe("installed code-review 1.0.0\n")
    expect(cli.code).toBe(0)
    const bad = await runCli(["programs", "install", "--data-dir", dataDir, mkdtempSync(join(tmpdir(), "annal-empty-"))])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain("is empty")
    const again = await startServer({ dataDir })
    try {
      expect((await again.json("/api/programs/code-review")).body).toMatchObject({ enabled: true, offered: true, source: shipped("code-review") })
      expect((await again.json("/api/audit/verify")).body.valid).toBe(true)
      expect((await again.json("/api/programs/code-review/host-requirements")).body).toMatchObject({ missing_required: [], all_required_present: true })
      // the workspace is a git repository: code-review's command tool reads its history
      expect(execFileSync("git", ["--git-dir", `${join(dataDir, "workspace")}.git`, "-C", join(dataDir, "workspace"), "rev-parse", "--is-inside-work-tree"]).toString().trim()).toBe("true")
    } finally {
      await again.stop()
    }
  }, 90_000)
})

describe("uninstalling", () => {
  it("removes the program, its folder and its tools; its events stay", async () => {
    expect(await server.json("/api/programs/notes", { method: "DELETE" })).toMatchObject({ status: 200, body: { status: "uninstalled", name: "notes" } })
    expect((await server.json("/api/programs/notes")).status).toBe(404)
    expect((await server.json("/api/programs/notes", { method: "DELETE" })).status).toBe(404)
    const frames = await sseFrames(server, ["program_installed", "program_disabled", "program_enabled", "program_uninstalled"], (f) => f.length >= 7)
    expect(frames.map((f) => `${f.type}:${f.name}`)).toEqual([
      "program_installed:notes",
      "program_installed:textkit",
      "program_installed:notes-copy",
      "program_uninstalled:notes-copy",
      "program_disabled:textkit",
      "program_enabled:textkit",
      "program_uninstalled:notes"
    ])
  }, 30_000)
})
