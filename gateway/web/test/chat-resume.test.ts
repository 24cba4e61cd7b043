/**
 * The chat reconnecting in Chromium against a real server and the fake model: the page's
 * WebSocket is cut while the agent's reply streams in; the page reconnects by itself, resumes from
 * the last seq it applied, and the run ends as one turn — one tool call, each phase once, one
 * reply — with nothing shown twice.
 */
import type { WebSocketRoute } from "playwright-core"
import { describe, expect, it } from "vitest"
import type { ScriptedReply } from "../../../kernel/test/fixtures/fakeOpenAi.js"
import { useUi } from "./browser.js"

const ui = useUi({ config: { tools: { policies: { write: "auto" } } } })
const json = (value: unknown): ScriptedReply => ({ text: JSON.stringify(value) })

describe("the chat's reconnect", () => {
  it("resumes from the last seq after its socket drops mid-reply, without duplicates", async () => {
    const { page, fake } = ui
    // every chat socket from now on passes through here, so the test can cut one
    const sockets: Array<WebSocketRoute> = []
    await page.routeWebSocket(/\/api\/chat\/stream/, (socket) => {
      socket.connectToServer()
      sockets.push(socket)
    })
    await page.reload()
    await page.getByRole("heading", { name: "Sessions" }).waitFor()
    await expect.poll(() => sockets.length).toBe(1)

    const words = "Wrote resume.txt as asked; it holds one line, and reading it back shows the same line you gave."
    fake.script.push(
      json({ goal_clarity: 0.9, constraints_clarity: 0.9, success_clarity: 0.9, questions: [] }),
      json({ goal: "Write resume.txt", constraints: [], acceptance_criteria: ["resume.txt exists"], ontology: null }),
      { toolCalls: [{ name: "write", arguments: { path: "resume.txt", content: "one line" } }] },
      { text: words, delayMs: 150 },
      json({ score: 1, passed: true, summary: "done" })
    )
    await page.getByLabel("Message").fill("write resume.txt")
    await page.getByLabel("Message").press("Enter")
    // cut the connection while the reply is streaming
    await page.getByTestId("streaming").waitFor({ timeout: 30_000 })
    const first = sockets[0]!
    await first.close({ code: 1012, reason: "cut by the test" })
    await expect.poll(() => sockets.length, { timeout: 20_000 }).toBe(2)

    const reply = page.locator(".reply")
    await reply.waitFor({ timeout: 30_000 })
    await expect.poll(() => page.getByRole("button", { name: "Stop", exact: true }).count(), { timeout: 30_000 }).toBe(0)
    expect(await reply.count()).toBe(1)
    expect((await reply.textContent())?.trim()).toBe(words)
    const turn = page.locator("article.turn")
    expect(await turn.count()).toBe(1)
    expect(await turn.locator(".timeline .tool").count()).toBe(1)
    const phases = await turn.locator(".timeline .phase").allTextContents()
    expect(phases.length).toBeGreaterThan(0)
    expect(new Set(phases).size).toBe(phases.length)
  }, 120_000)

  it("logs no console error or warning", () => {
    expect(ui.problems).toEqual([])
  })
})
