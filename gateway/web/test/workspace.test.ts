/**
 * The Workspace page in Chromium against a real server with its real git repository: a file is
 * created in a directory from the page, found in the tree, edited and saved twice (each a
 * commit), its history lists both, and the first version is restored — in the editor and on the
 * server. The page passes the checks every page passes (axe, 375 px, dark theme, no console error).
 */
import { describe, expect, it } from "vitest"
import { checkPage, openPage, useUi } from "./browser.js"

const ui = useUi()

describe("the Workspace page", () => {
  it("creates, edits and saves a file, shows its history and restores a version", async () => {
    const { page, server } = ui
    await openPage(page, "Workspace")
    await page.getByLabel("New file path").fill("notes/plan.md")
    await page.getByRole("button", { name: "Create" }).click()
    const editor = page.getByLabel("Contents of notes/plan.md")
    await expect.poll(() => editor.isEnabled()).toBe(true)
    // the tree shows the new file's directory
    await page.getByRole("button", { name: "Open plan.md" }).waitFor()
    await editor.fill("# Plan\n\nfirst version\n")
    await page.getByRole("button", { name: "Save", exact: true }).click()
    await page.getByRole("status").filter({ hasText: "Saved and committed." }).waitFor()
    await editor.fill("# Plan\n\nsecond version\n")
    await page.getByRole("button", { name: "Save", exact: true }).click()
    // the status still reads "Saved" from the first save: wait for the server to hold the second
    await expect.poll(async () => (await server.fetch("/api/workspace/file/notes/plan.md")).text()).toMatch(/second version/)
    const history = page.getByRole("region", { name: "History of notes/plan.md" })
    // create, first save, second save: three commits of the file, newest first
    await expect.poll(() => history.getByRole("listitem").count(), { timeout: 20_000 }).toBe(3)
    const firstVersion = history.getByRole("listitem").nth(1)
    await firstVersion.getByRole("button", { name: /^Restore this version from / }).click()
    await page.getByRole("status").filter({ hasText: /^Restored from [0-9a-f]{12}\.$/ }).waitFor()
    await expect.poll(() => editor.inputValue()).toBe("# Plan\n\nfirst version\n")
    expect(await (await server.fetch("/api/workspace/file/notes/plan.md")).text()).toBe("# Plan\n\nfirst version\n")
    await expect.poll(() => history.getByRole("listitem").first().textContent()).toMatch(/restore notes\/plan\.md from/)
    // up to the root and back into the directory with the keyboard
    await page.getByRole("button", { name: "Up one directory" }).focus()
    await page.keyboard.press("Enter")
    await page.getByRole("button", { name: "Open directory notes" }).focus()
    await page.keyboard.press("Enter")
    await page.getByRole("button", { name: "Open plan.md" }).waitFor()
    await checkPage(page, "workspace")
  }, 120_000)

  it("logs no console error or warning", () => {
    expect(ui.problems).toEqual([])
  })
})
