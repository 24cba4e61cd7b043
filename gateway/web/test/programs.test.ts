/**
 * The Programs page in Chromium against a real server: the docs' worked example program is
 * installed from a local tarball server by its URL, its tools are shown with their argument
 * schemas and its host requirements; it is disabled, enabled and uninstalled — each checked on
 * the server. The page passes the checks every page passes (axe, 375 px, dark theme, no console
 * error).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type FileServer, programEntries, startFileServer, tarGz } from "../../../programs/test/fixtures/tarball.js"
import { docsExample } from "../../../programs/test/support.js"
import { checkPage, openPage, openUi, type Ui } from "./browser.js"

let ui: Ui
let files: FileServer

beforeAll(async () => {
  ;[ui, files] = await Promise.all([openUi(), startFileServer()])
}, 120_000)

afterAll(async () => {
  await ui?.close()
  await files?.close()
})

const enabled = async () => (await ui.server.json<{ items: ReadonlyArray<{ name: string; enabled: boolean }> }>("/api/programs")).body.items.map((p) => `${p.name}:${p.enabled}`)

describe("the Programs page", () => {
  it("installs a program from a tarball URL and shows its tools with their arguments", async () => {
    const { page } = ui
    files.files.set("/notes-1.0.0.tar.gz", tarGz(programEntries("notes-1.0.0", docsExample())))
    await openPage(page, "Programs")
    await page.getByText("No programs installed.").waitFor()
    await page.getByLabel("Git or tarball URL").fill(`${files.url}/notes-1.0.0.tar.gz`)
    await page.getByRole("button", { name: "Install from a URL" }).click()
    await page.getByRole("status").filter({ hasText: "Installed notes." }).waitFor({ timeout: 60_000 })
    expect(await enabled()).toEqual(["notes:true"])
    await page.getByRole("heading", { name: "Tools of notes" }).waitFor()
    const headings = page.getByRole("region", { name: "headings" })
    await expect.poll(() => headings.getByRole("row").filter({ hasText: "max_level" }).textContent()).toMatch(/max_level.*integer.*no \(3\)/)
    expect(await page.getByRole("region", { name: "count_words" }).getByRole("row").filter({ hasText: "path" }).textContent()).toMatch(/path.*path.*yes/)
    await expect.poll(() => page.getByText(/^Host requirements: /).textContent()).toMatch(/all required host tools present|missing: /)
    await checkPage(page, "programs")
  }, 120_000)

  it("disables, enables and uninstalls it", async () => {
    const { page } = ui
    await page.getByRole("button", { name: "Disable notes" }).click()
    await page.getByRole("button", { name: "Enable notes" }).waitFor()
    expect(await enabled()).toEqual(["notes:false"])
    await page.getByRole("button", { name: "Enable notes" }).click()
    await page.getByRole("button", { name: "Disable notes" }).waitFor()
    expect(await enabled()).toEqual(["notes:true"])
    await page.getByRole("button", { name: "Uninstall notes" }).click()
    await page.getByRole("status").filter({ hasText: "Uninstalled notes." }).waitFor()
    await page.getByText("No programs installed.").waitFor()
    expect(await enabled()).toEqual([])
  }, 60_000)

  it("logs no console error or warning", () => {
    expect(ui.problems).toEqual([])
  })
})
