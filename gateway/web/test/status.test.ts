/**
 * The Status page in Chromium against a real server: the components' health, the model in use
 * (the fake OpenAI-compatible one), and the machine's samples drawn as a chart, one point per
 * sample the server has. The page passes the checks every page passes (axe, 375 px, dark theme,
 * no console error).
 */
import { describe, expect, it } from "vitest"
import { until } from "../../test/harness.js"
import { checkPage, openPage, useUi } from "./browser.js"

const ui = useUi()

describe("the Status page", () => {
  it("shows the components' health, the model, and the resource samples as a chart", async () => {
    const { page, server } = ui
    // the server's sampler records one sample each 5 s: wait for two to draw a line through
    await until("two resource samples", async () => (await server.json<{ count: number }>("/api/resources/history")).body.count, (n) => n >= 2, { everyMs: 500, timeoutMs: 30_000 })
    await openPage(page, "Status")
    const components = page.getByRole("region", { name: "Components" })
    await expect.poll(() => components.getByRole("row").filter({ hasText: "State store (the log)" }).textContent()).toMatch(/healthy.*\d+ events, head seq \d+/)
    expect(await components.getByRole("row").filter({ hasText: "Event bus" }).textContent()).toContain("healthy")
    await expect.poll(() => page.getByRole("region", { name: "Language model" }).textContent()).toContain("fake")
    const chart = page.getByRole("img", { name: /^CPU and memory use over the last \d+ samples$/ })
    await chart.waitFor()
    const samples = Number((await chart.getAttribute("aria-label"))!.match(/\d+/)![0])
    expect(samples).toBeGreaterThanOrEqual(2)
    expect(((await chart.locator("polyline.cpu").getAttribute("points")) ?? "").split(" ")).toHaveLength(samples)
    await checkPage(page, "status")
  }, 120_000)

  it("logs no console error or warning", () => {
    expect(ui.problems).toEqual([])
  })
})
