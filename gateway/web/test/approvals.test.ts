/**
 * The Approvals page in Chromium against a real server: an agent's write waits for a person;
 * the page shows it pending with its expiry counting down, approves it (the agent goes on and
 * writes the file), and the history says who decided; a second one is rejected. The page passes
 * the checks every page passes (axe, 375 px, dark theme, no console error).
 */
import { describe, expect, it } from "vitest"
import type { ScriptedReply } from "../../../kernel/test/fixtures/fakeOpenAi.js"
import { checkPage, openPage, useUi } from "./browser.js"

const ui = useUi({ config: { approvals: { timeout_secs: 300 }, tools: { policies: { write: "on_demand" } } } })
const json = (value: unknown): ScriptedReply => ({ text: JSON.stringify(value) })
const clear = json({ goal_clarity: 0.9, constraints_clarity: 0.9, success_clarity: 0.9, questions: [] })
const seed = json({ goal: "Write a file", constraints: [], acceptance_criteria: ["it exists"], ontology: null })
const passed = json({ score: 1, passed: true, summary: "done" })

const countdown = () => ui.page.locator(".approval-item .badge").first().textContent()

describe("the Approvals page", () => {
  it("approves a pending write with its expiry counting down, then shows who decided", async () => {
    const { page, server, fake } = ui
    await openPage(page, "Approvals")
    await page.getByText("Nothing waits for a decision.").waitFor()
    fake.script.push(clear, seed, { toolCalls: [{ name: "write", arguments: { path: "ok.txt", content: "yes" } }] }, { text: "Wrote ok.txt." }, passed)
    const chat = server.json("/api/chat", { method: "POST", body: JSON.stringify({ content: "write ok.txt" }) })
    const approve = page.getByRole("button", { name: /^Approve use_tool:write for / })
    await approve.waitFor({ timeout: 30_000 })
    // the countdown moves on its own
    const first = await countdown()
    expect(first).toMatch(/^expires in \d+:\d\d$/)
    await expect.poll(countdown, { timeout: 5_000 }).not.toBe(first)
    await approve.click()
    await page.getByRole("status").filter({ hasText: "Decision recorded: approved." }).waitFor()
    const row = page.getByRole("row").filter({ hasText: "use_tool:write" })
    await expect.poll(() => row.first().textContent(), { timeout: 20_000 }).toMatch(/approved.*user:/)
    expect((await chat).status).toBe(200)
    expect(await (await server.fetch("/api/workspace/file/ok.txt")).text()).toBe("yes")
  }, 120_000)

  it("rejects one; the history lists both with their outcome", async () => {
    const { page, server, fake } = ui
    fake.script.push(clear, seed, { toolCalls: [{ name: "write", arguments: { path: "no.txt", content: "no" } }] }, { text: "Could not write." }, json({ score: 0, passed: false, summary: "refused" }))
    const chat = server.json("/api/chat", { method: "POST", body: JSON.stringify({ content: "write no.txt" }) }).catch(() => undefined)
    const reject = page.getByRole("button", { name: /^Reject use_tool:write for / })
    await reject.waitFor({ timeout: 30_000 })
    await checkPage(page, "approvals")
    await reject.click()
    await page.getByRole("status").filter({ hasText: "Decision recorded: rejected." }).waitFor()
    await expect.poll(() => page.getByRole("row").filter({ hasText: "rejected" }).count(), { timeout: 20_000 }).toBe(1)
    await page.getByText("Nothing waits for a decision.").waitFor()
    const decided = await server.json<ReadonlyArray<{ status: string; resolved_by: string | null }>>("/api/approvals")
    expect(decided.body.map((a) => a.status).sort()).toEqual(["approved", "rejected"])
    await chat
    expect((await server.fetch("/api/workspace/file/no.txt")).status).toBe(404)
  }, 120_000)

  it("logs no console error or warning", () => {
    expect(ui.problems).toEqual([])
  })
})
