/**
 * Replaying a recorded chat run over HTTP (`POST /api/chat/runs/{id}/replay`) and with the CLI
 * (`annal replay RUN_ID`) against a real server whose model is a fake OpenAI-compatible one: a
 * run with tool calls comes out identical without asking the model or appending to the log; 404
 * for an unknown run; after a tool's recorded output is edited in the log file, the CLI names the
 * edited event.
 */
import Database from "better-sqlite3"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type FakeOpenAi, startFakeOpenAi } from "../../kernel/test/fixtures/fakeOpenAi.js"
import { runCli, type RunningServer, startServer, tempDir } from "./harness.js"

let fake: FakeOpenAi
let server: RunningServer
const dataDir = tempDir("annal-replay-")

beforeAll(async () => {
  fake = await startFakeOpenAi()
  server = await startServer({ dataDir, env: { ANNAL_MODEL_PATH: "", ANNAL_LLM_BASE_URL: fake.url, ANNAL_LLM_MODEL: "fake" } })
})
afterAll(async () => {
  await server?.stop()
  await fake?.close()
})

const json = (value: unknown) => ({ text: JSON.stringify(value) })

const entries = async (type: string) => {
  const page = await server.json(`/api/audit/entries?from_seq=1&to_seq=100000`)
  return (page.body.entries as Array<any>).filter((e) => e.action === type)
}

describe("replaying a chat run", () => {
  it("over HTTP: identical, the model not asked, the log unchanged; 404 for an unknown run; the CLI names an edited tool result", async () => {
    fake.script.push(
      json({ goal_clarity: 1, constraints_clarity: 1, success_clarity: 1, questions: [] }),
      json({ goal: "List the workspace", constraints: [], acceptance_criteria: ["it names what is there"], ontology: null }),
      { toolCalls: [{ name: "ls", arguments: { path: "." }, id: "call_ls" }] },
      { text: "The workspace is empty." },
      json({ score: 1, passed: true, summary: "named" })
    )
    const chat = await server.json("/api/chat", { method: "POST", body: JSON.stringify({ content: "what is in the workspace?" }) })
    expect(chat.status).toBe(200)
    expect(chat.body).toMatchObject({ reply: "The workspace is empty.", phase: "evaluate" })
    const runId = String((await entries("chat_run_started"))[0].data.run_id)
    const head = (await server.json("/api/audit/entries?from_seq=1&to_seq=100000")).body.entries.length
    const asked = fake.requests.length

    const replayed = await server.json(`/api/chat/runs/${runId}/replay`, { method: "POST" })
    expect(replayed.status).toBe(200)
    expect(replayed.body).toEqual({ result: "identical", run_id: runId, events: expect.any(Number), unanswered: [] })
    expect(replayed.body.events).toBeGreaterThan(20)
    expect(fake.requests.length).toBe(asked)
    expect((await server.json("/api/audit/entries?from_seq=1&to_seq=100000")).body.entries.length).toBe(head)

    const unknown = await server.json("/api/chat/runs/no-such-run/replay", { method: "POST" })
    expect(unknown.status).toBe(404)
    expect(unknown.body.error).toContain("no-such-run")

    // beside the running server, the CLI agrees
    const cli = await runCli(["replay", runId, "--data-dir", dataDir])
    expect(cli.stdout).toContain(`identical: the replay of chat run ${runId} produced the ${replayed.body.events} events the log records`)
    expect(cli.code).toBe(0)

    // stopped, an attacker edits what `ls` gave the model, in the log file itself
    await server.stop()
    const db = new Database(join(dataDir, "annal.db"))
    const completed = db.prepare("SELECT seq FROM events WHERE type = 'tool_call_completed'").get() as { seq: number }
    db.prepare("UPDATE events SET data = json_set(data, '$.output', 'secret.txt') WHERE seq = ?").run(completed.seq)
    db.close()
    const edited = await runCli(["replay", runId, "--data-dir", dataDir])
    expect(edited.code).toBe(1)
    expect(edited.stdout).toContain(`DIFFERENT at seq ${completed.seq}`)
    expect(edited.stdout).toMatch(/expected: \{"type":"tool_call_completed".*"output":"secret.txt"/)
    expect(edited.stdout).toContain("unanswered: the model was asked something the record has no answer to")
  }, 120_000)
})
