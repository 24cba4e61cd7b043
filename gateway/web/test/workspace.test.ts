/**
 * The Workspace page in Chromium against a real server with its real git repository: a file is
 * created in a directory from the page, found in the tree, edited and saved twice (each a
 * commit), its history lists both (the file's own commits, as `GET /api/git/log?path=` does), the
 * first version is viewed beside the editor and restored — in the editor and on the server. The page passes the checks every page passes (axe, 375 px, dark theme, no console error).
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
    // a commit of another file, which the history leaves out
    expect((await server.fetch("/api/workspace/file/notes/other.md", { method: "PUT", body: "other" })).status).toBe(200)
    await editor.fill("# Plan\n\nsecond version\n")
    await page.getByRole("button", { name: "Save", exact: true }).click()
    // the status still reads "Saved" from the first save: wait for the server to hold the second
    await expect.poll(async () => (await server.fetch("/api/workspace/file/notes/plan.md")).text()).toMatch(/second version/)
    const history = page.getByRole("region", { name: "History of notes/plan.md" })
    // create, first save, second save: three commits of the file, newest first
    await expect.poll(() => history.getByRole("listitem").count(), { timeout: 20_000 }).toBe(3)
    // the history is the file's own, as the API lists it (another file's commit is not in it)
    const log = async () => (await server.json<{ entries: ReadonlyArray<{ hash: string }> }>("/api/git/log?path=notes/plan.md")).body.entries
    expect((await history.getByRole("listitem").locator("code").allTextContents())).toEqual((await log()).map((e) => e.hash.slice(0, 12)))
    // view the first version, then restore it from the view
    const firstVersion = history.getByRole("listitem").nth(1)
    const firstHash = (await firstVersion.locator("code").textContent())!
    await firstVersion.getByRole("button", { name: `View the version from ${firstHash}` }).click()
    const version = page.getByRole("region", { name: `notes/plan.md at ${firstHash}` })
    await expect.poll(() => version.getByLabel(`Text of notes/plan.md at ${firstHash}`).textContent()).toBe("# Plan\n\nfirst version\n")
    expect(await editor.inputValue()).toBe("# Plan\n\nsecond version\n")
    await checkPage(page, "workspace-version", { fullPage: true })
    await version.getByRole("button", { name: "Restore this version" }).click()
    await page.getByRole("status").filter({ hasText: `Restored from ${firstHash}.` }).waitFor()
    await version.waitFor({ state: "detached" })
    await expect.poll(() => editor.inputValue()).toBe("# Plan\n\nfirst version\n")
    expect(await (await server.fetch("/api/workspace/file/notes/plan.md")).text()).toBe("# Plan\n\nfirst version\n")
    await expect.poll(() => history.getByRole("listitem").first().textContent()).toMatch(/restore notes\/plan\.md from/)
    expect((await history.getByRole("listitem").locator("code").allTextContents())).toEqual((await log()).map((e) => e.hash.slice(0, 12)))
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
