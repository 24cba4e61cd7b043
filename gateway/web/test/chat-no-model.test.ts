/**
 * The chat page with no language model configured, in Chromium against a real server started
 * without one: before anything is sent the page says so and how to configure one, and a message
 * sent anyway fails with that explanation in words, not a bare status code. The page passes the
 * checks every page passes (axe, 375 px, dark theme, no console error).
 */
import { describe, expect, it } from "vitest"
import { checkPage, useUi } from "./browser.js"

const ui = useUi({ env: { ANNAL_LLM_BASE_URL: "", ANNAL_LLM_MODEL: "" } })

describe("the chat page without a model", () => {
  it("says that no model is configured and how to configure one, before and after a message", async () => {
    const { page, server } = ui
    const status = (await server.json<{ components: { llm: { configured: boolean } } }>("/api/status")).body
    expect(status.components.llm.configured).toBe(false)
    const banner = page.getByRole("status").filter({ hasText: "No language model is configured" })
    await banner.waitFor()
    expect(await banner.textContent()).toContain("ANNAL_LLM_BASE_URL")

    await page.getByLabel("Message").fill("hello there")
    await page.getByLabel("Message").press("Enter")
    const failed = page.getByRole("log").getByRole("alert")
    await failed.waitFor({ timeout: 30_000 })
    const text = (await failed.textContent()) ?? ""
    expect(text).toContain("No language model is configured")
    expect(text).toContain("ANNAL_LLM_BASE_URL and ANNAL_LLM_MODEL")
    expect(text).not.toMatch(/\b503\b/)
    await checkPage(page, "chat-no-model")
  }, 90_000)

  it("logs no console error or warning", () => {
    expect(ui.problems).toEqual([])
  })
})
