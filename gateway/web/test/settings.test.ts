/**
 * The Settings page in Chromium against a real server: a setting the server refuses shows the
 * server's error beside that field (and changes nothing), a valid one is saved and is what the
 * server then holds. The page passes the checks every page passes (axe, 375 px, dark theme, no
 * console error).
 */
import { describe, expect, it } from "vitest"
import { checkPage, openPage, useUi } from "./browser.js"

const ui = useUi()

describe("the Settings page", () => {
  it("shows the server's validation error beside the field, then saves a valid value", async () => {
    const { page, server } = ui
    const before = (await server.json("/api/config")).body
    await openPage(page, "Settings")
    const section = page.getByRole("form", { name: "approvals" })
    const field = section.getByLabel("timeout_secs", { exact: true })
    await field.fill("0")
    await section.getByRole("button", { name: "Save approvals" }).click()
    const error = section.locator(`#${await field.getAttribute("id")}-error`)
    await expect.poll(() => error.textContent()).toContain(`"approvals.timeout_secs"`)
    expect(await field.getAttribute("aria-invalid")).toBe("true")
    expect(await field.getAttribute("aria-describedby")).toBe(await error.getAttribute("id"))
    expect((await server.json("/api/config")).body).toEqual(before)
    await checkPage(page, "settings")
    await field.fill("45")
    await section.getByRole("button", { name: "Save approvals" }).click()
    await section.getByRole("status").filter({ hasText: "Saved approvals." }).waitFor()
    expect(await error.count()).toBe(0)
    expect((await server.json("/api/config")).body.approvals.timeout_secs).toBe(45)
  }, 120_000)

  it("logs no console error or warning", () => {
    // the refused save's 400 is logged by Chromium as a failed resource: that one was asked for
    expect(ui.problems.filter((p) => !/status of 400/.test(p))).toEqual([])
  })
})
