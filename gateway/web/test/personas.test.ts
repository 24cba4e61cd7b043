/**
 * The Personas & skills page in Chromium against a real server: a persona is added and made the
 * active one; a skill is added and deleted — each checked on the server. The page passes the
 * checks every page passes (axe, 375 px, dark theme, no console error).
 */
import { describe, expect, it } from "vitest"
import { checkPage, openPage, useUi } from "./browser.js"

const ui = useUi()

describe("the Personas & skills page", () => {
  it("adds a persona and activates it; adds and deletes a skill", async () => {
    const { page, server } = ui
    await openPage(page, "Personas & skills")
    const personas = page.getByRole("form", { name: "Add a persona" })
    await personas.getByLabel("Name").fill("Archivist")
    await personas.getByLabel("Role").fill("keeps the record tidy")
    await personas.getByRole("button", { name: "Add" }).click()
    await page.getByRole("status").filter({ hasText: "Created Archivist." }).waitFor()
    await page.getByRole("button", { name: "Activate Archivist" }).click()
    await page.getByRole("status").filter({ hasText: "Archivist is now the active persona." }).waitFor()
    expect((await server.json("/api/personas/active")).body).toMatchObject({ active: true, name: "Archivist" })
    await expect.poll(() => page.getByRole("button", { name: "Activate Archivist" }).count()).toBe(0)

    const skills = page.getByRole("form", { name: "Add a skill" })
    await skills.getByLabel("Skill name (letters, digits, - and _)").fill("tidy-notes")
    await skills.getByLabel("Description").fill("How to keep notes tidy")
    await skills.getByLabel("Content (Markdown)").fill("# Tidy notes\n\nOne topic per file.")
    await skills.getByRole("button", { name: "Add" }).click()
    await page.getByRole("status").filter({ hasText: "Created tidy-notes." }).waitFor()
    expect((await server.json("/api/skills/tidy-notes")).body).toMatchObject({ name: "tidy-notes", content: "# Tidy notes\n\nOne topic per file." })
    await checkPage(page, "personas")
    await page.getByRole("button", { name: "Delete skill tidy-notes" }).click()
    await page.getByRole("status").filter({ hasText: "Deleted tidy-notes." }).waitFor()
    expect((await server.fetch("/api/skills/tidy-notes")).status).toBe(404)
  }, 120_000)

  it("logs no console error or warning", () => {
    expect(ui.problems).toEqual([])
  })
})
