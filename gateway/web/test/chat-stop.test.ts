/**
 * The chat's stop button in Chromium against a real server and the fake model: a run whose
 * agent waits for a person's yes on a write is stopped from the conversation — the agent is
 * killed on the server, the run ends on the page, and the write never happens.
 */
import { describe, expect, it } from "vitest"
import type { ScriptedReply } from "../../../kernel/test/fixtures/fakeOpenAi.js"
import { useUi } from "./browser.js"

const ui = useUi({ config: { approvals: { timeout_secs: 300 }, tools: { policies: { write: "on_demand" } } } })
const json = (value: unknown): ScriptedReply => ({ text: JSON.stringify(value) })

type Agents = { items: ReadonlyArray<{ id: string; status: string }> }

describe("the chat's stop button", () => {
  it("kills the run's agent while it waits, and the run ends", async () => {
    const { page, server, fake } = ui
    fake.script.push(
      json({ goal_clarity: 0.9, constraints_clarity: 0.9, success_clarity: 0.9, questions: [] }),
      json({ goal: "Write a file", constraints: [], acceptance_criteria: ["it exists"], ontology: null }),
      { toolCalls: [{ name: "write", arguments: { path: "stopped.txt", content: "never" } }] }
    )
    await page.getByLabel("Message").fill("write stopped.txt")
    await page.getByLabel("Message").press("Enter")
    await page.getByRole("button", { name: "Approve" }).waitFor({ timeout: 30_000 })
    const alive = (await server.json<Agents>("/api/agents")).body.items.filter((a) => a.status !== "Stopped" && a.status !== "Failed" && a.status !== "Completed")
    expect(alive).toHaveLength(1)

    const stop = page.getByRole("button", { name: "Stop", exact: true })
    await stop.click()
    // the agent is killed on the server, and the page's run ends: no stop button any more
    await expect.poll(async () => (await server.json<Agents>("/api/agents")).body.items.find((a) => a.id === alive[0]!.id)?.status, { timeout: 20_000 }).toBe("Stopped")
    await stop.waitFor({ state: "detached", timeout: 30_000 })
    expect((await server.fetch("/api/workspace/file/stopped.txt")).status).toBe(404)
  }, 120_000)

  it("logs no console error or warning", () => {
    expect(ui.problems).toEqual([])
  })
})
