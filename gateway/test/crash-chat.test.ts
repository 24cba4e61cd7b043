/**
 * `kill -9` in the middle of a chat run: after the restart the run is resumed from its seed (a
 * fresh agent), answers in its session, the agent the crash cut off is failed explicitly, the
 * chain verifies and `annal rebuild` reproduces every view.
 */
import { expect, it } from "vitest"
import { type FakeOpenAi, startFakeOpenAi } from "../../kernel/test/fixtures/fakeOpenAi.js"
import { runCli, type RunningServer, startServer, startServerProcess, until } from "./harness.js"

const json = (value: unknown) => ({ text: JSON.stringify(value) })

it("a chat run cut off by kill -9 is resumed after the restart, answers in its session, and the log stays sound", async () => {
  const fake: FakeOpenAi = await startFakeOpenAi([
    json({ goal_clarity: 0.9, constraints_clarity: 0.9, success_clarity: 0.9, questions: [] }),
    json({ goal: "Write crash.txt", constraints: [], acceptance_criteria: ["`crash.txt` exists"], ontology: null }),
    // the agent the crash cuts off: still streaming when the process dies
    { text: Array.from({ length: 300 }, (_, i) => `w${i}`).join(" "), delayMs: 30 },
    // after the restart: a fresh agent for the same seed
    { toolCalls: [{ name: "write", arguments: { path: "crash.txt", content: "survived" } }] },
    { text: "crash.txt is written." },
    json({ score: 1, passed: true, summary: "there" })
  ])
  const env = { ANNAL_MODEL_PATH: "", ANNAL_LLM_BASE_URL: fake.url, ANNAL_LLM_MODEL: "fake" }
  // kill -9 needs a process of its own; the restart can run here
  const first = await startServerProcess({ env })
  let server: RunningServer = first
  const dataDir = server.dataDir
  try {
    await server.json("/api/config", { method: "PUT", body: JSON.stringify({ tools: { policies: { write: "auto" } }, orchestrator: { chat_timeout_secs: 60 } }) })
    // the chat waits for its reply; the crash cuts the request off
    const pending = server.json("/api/chat", { method: "POST", body: JSON.stringify({ content: "write crash.txt", session_id: "crash-session" }) }).catch((e) => e)
    await until("the third model request", () => fake.requests.length, (n) => n === 3, { timeoutMs: 20_000 })
    // the agent is streaming (its answer comes a word every 30 ms) when the process dies
    await until("the agent to be running", async () => (await server.json("/api/agents")).body.items, (items) => items.some((a: any) => a.status === "Running"))
    await server.crash()
    expect(first.process.signalCode).toBe("SIGKILL")
    expect(await pending).toBeInstanceOf(Error)

    server = await startServer({ dataDir, env })
    const session = await until(
      "the resumed run's answer",
      async () => (await server.json("/api/sessions/crash-session")).body,
      (s) => Array.isArray(s.agent_responses) && s.agent_responses.length === 1,
      { timeoutMs: 20_000 }
    )
    expect(session.user_messages).toEqual(["write crash.txt"])
    expect(session.agent_responses[0]).toMatchObject({ content: "crash.txt is written.", phase_reached: "evaluate", evaluation_passed: true })
    expect(await (await server.fetch("/api/workspace/file/crash.txt")).text()).toBe("survived")

    const agents = (await server.json("/api/agents")).body.items
    expect(agents.map((a: any) => a.status).sort()).toEqual(["Failed", "Stopped"])
    const entries: Array<any> = (await server.json("/api/audit/entries?from_seq=1&to_seq=100000")).body.entries
    const actions = entries.map((e) => e.action)
    expect(actions.filter((a) => a === "chat_run_resumed")).toHaveLength(1)
    expect(actions.filter((a) => a === "chat_run_completed")).toHaveLength(1)
    expect(actions.filter((a) => a === "seed_created")).toHaveLength(1)
    // the task of the cut-off agent is failed as interrupted; the fresh agent's task completed
    const tasks = actions.filter((a) => a === "task_failed" || a === "task_completed")
    expect(tasks.sort()).toEqual(["task_completed", "task_failed"])
    const verify = await server.json("/api/audit/verify")
    expect(verify.body.valid).toBe(true)
  } finally {
    expect(await server.stop()).toBe(0)
    await fake.close()
  }
  const rebuild = await runCli(["rebuild", "--data-dir", dataDir])
  expect(rebuild.code, rebuild.stdout + rebuild.stderr).toBe(0)
}, 90_000)
