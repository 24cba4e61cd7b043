/**
 * The Memory page in Chromium against a real server: memories stored from the form land on the
 * server; a semantic search finds the one that means the query (first, with its similarity
 * shown), a keyword search finds the literal word; a memory is deleted. The page passes the
 * checks every page passes (axe, 375 px, dark theme, no console error).
 */
import { describe, expect, it } from "vitest"
import { checkPage, openPage, useUi } from "./browser.js"

const ui = useUi()

const store = async (content: string, tags = "") => {
  const { page } = ui
  await page.getByLabel("Content").fill(content)
  await page.getByLabel("Tags (comma separated)").fill(tags)
  await page.getByRole("button", { name: "Store" }).click()
  await page.getByRole("status").filter({ hasText: /^Stored as / }).waitFor()
  await expect.poll(() => page.getByLabel("Content").inputValue()).toBe("")
}

describe("the Memory page", () => {
  it("stores memories and finds one by meaning, with its similarity, and one by keyword", async () => {
    const { page, server } = ui
    await openPage(page, "Memory")
    await page.getByText("Nothing remembered yet.").waitFor()
    await store("The production database is backed up every night at two o'clock.", "ops, backups")
    await store("Maria prefers her coffee black, no sugar.")
    await store("Deploying the gateway: build the container image and push it to the registry.")
    await expect.poll(() => page.getByRole("region", { name: "Stored memories" }).locator(".memory-item").count()).toBe(3)
    const listed = await server.json<{ total: number }>("/api/memory")
    expect(listed.body.total).toBe(3)

    await page.getByLabel("Query").fill("when are the database backups taken?")
    await page.getByRole("button", { name: "Search", exact: true }).click()
    const results = page.locator("ol.results > li")
    await results.first().waitFor()
    expect(await results.first().textContent()).toContain("backed up every night")
    expect(await results.first().locator(".similarity").textContent()).toMatch(/similarity 0\.\d{3}/)

    await page.getByLabel("Keyword").check()
    await page.getByLabel("Query").fill("coffee")
    await page.getByRole("button", { name: "Search", exact: true }).click()
    await expect.poll(() => page.getByRole("status").filter({ hasText: /found$/ }).textContent()).toBe("1 found")
    expect(await results.first().textContent()).toContain("Maria prefers her coffee")
    // a keyword result has no similarity: that is the semantic search's
    expect(await results.first().locator(".similarity").count()).toBe(0)
    await checkPage(page, "memory")
  }, 120_000)

  it("deletes a memory", async () => {
    const { page, server } = ui
    const item = page.getByRole("region", { name: "Stored memories" }).locator(".memory-item").filter({ hasText: "Maria prefers" })
    const id = (await item.locator("code").textContent())!
    await page.getByRole("button", { name: `Delete memory ${id}` }).click()
    await page.getByRole("status").filter({ hasText: `Deleted ${id}.` }).waitFor()
    await expect.poll(() => page.getByRole("region", { name: "Stored memories" }).locator(".memory-item").count()).toBe(2)
    expect((await server.fetch(`/api/memory/${id}`)).status).toBe(404)
  }, 60_000)

  it("logs no console error or warning", () => {
    expect(ui.problems).toEqual([])
  })
})
