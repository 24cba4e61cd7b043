/**
 * The Agents page in Chromium against a real server: an agent held by a pending approval shows
 * as alive, is killed from the page and shows as stopped without a reload (the record's events
 * keep the list live); the scheduler and the agent groups are shown; the page passes the checks
 * every page passes (Tab reaches every control, axe, 375 px, dark theme, no console error).
 */
import { describe, expect, it } from "vitest"
import type { ScriptedReply } from "../../../kernel/test/fixtures/fakeOpenAi.js"
import { checkPage, openPage, useUi } from "./browser.js"

const ui = useUi({ config: { approvals: { timeout_secs: 300 }, tools: { policies: { write: "on_demand" } } } })
const json = (value: unknown): ScriptedReply => ({ text: JSON.stringify(value) })

describe("the Agents page", () => {
  it("lists a live agent, kills it, and shows it stopped without a reload", async () => {
    const { page, server, fake } = ui
    await openPage(page, "Agents")
    await page.getByText("No agents yet").waitFor()
    // a run whose agent then waits for a person's yes on a write: alive until decided or killed
    fake.script.push(
      json({ goal_clarity: 0.9, constraints_clarity: 0.9, success_clarity: 0.9, questions: [] }),
      json({ goal: "Write a file", constraints: [], acceptance_criteria: ["it exists"], ontology: null }),
      { toolCalls: [{ name: "write", arguments: { path: "a.txt", content: "a" } }] }
    )
    const chat = server.json("/api/chat", { method: "POST", body: JSON.stringify({ content: "write a.txt" }) }).catch(() => undefined)
    const kill = page.getByRole("button", { name: /^Kill agent / })
    await kill.first().waitFor({ timeout: 30_000 })
    const listed = (await server.json<{ items: ReadonlyArray<{ name: string; status: string }> }>("/api/agents")).body.items
    const alive = listed.find((a) => a.status === "Running" || a.status === "Idle" || a.status === "Starting")
    expect(alive).toBeDefined()
    await page.getByRole("button", { name: `Kill agent ${alive!.name}` }).click()
    await page.getByRole("status").filter({ hasText: `Killed ${alive!.name}.` }).waitFor()
    // the row turns Stopped from the record's agent_stopped, with no reload asked for
    await expect.poll(() => page.getByRole("row").filter({ hasText: alive!.name }).textContent(), { timeout: 20_000 }).toMatch(/Stopped|Failed/)
    expect(await page.getByRole("button", { name: `Kill agent ${alive!.name}` }).count()).toBe(0)
    const after = (await server.json<{ items: ReadonlyArray<{ name: string; status: string }> }>("/api/agents")).body.items
    expect(after.find((a) => a.name === alive!.name)?.status).toMatch(/Stopped|Failed/)
    await chat
    await page.getByRole("heading", { name: "Scheduler" }).waitFor()
    await page.getByText(/\d+ queued, \d+ running of at most \d+ at once/).waitFor()
    await page.getByRole("heading", { name: "Agent groups" }).waitFor()
    await checkPage(page, "agents")
  }, 120_000)

  it("logs no console error or warning", () => {
    expect(ui.problems).toEqual([])
  })
})
