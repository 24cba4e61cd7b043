/**
 * The web UI end to end, the way a person uses it: Debian's Chromium driven by playwright-core
 * against a real Annal server on a random port, its agents on a fake OpenAI-compatible model
 * (a local HTTP server speaking the real protocol). One browser and one page for the whole file,
 * to keep it light on the CPU. Every page is checked with axe-core (no serious or critical
 * violation) and photographed into docs/screenshots/; no page may log a console error or warning.
 */
import AxeBuilder from "@axe-core/playwright"
import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync } from "node:fs"
import { join } from "node:path"
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type FakeOpenAi, type ScriptedReply, startFakeOpenAi } from "../../../kernel/test/fixtures/fakeOpenAi.js"
import { ROOT, type RunningServer, startServer, tempDir } from "../../test/harness.js"
import { widerThanViewport } from "./browser.js"

const CHROMIUM = "/usr/bin/chromium"
const SCREENSHOTS = join(ROOT, "docs", "screenshots")

let fake: FakeOpenAi
let server: RunningServer
let browser: Browser
let context: BrowserContext
let page: Page
const problems: Array<string> = []

const json = (value: unknown): ScriptedReply => ({ text: JSON.stringify(value) })
const clear = json({ goal_clarity: 0.9, constraints_clarity: 0.9, success_clarity: 0.9, questions: [] })
const passed = json({ score: 1, passed: true, summary: "done" })
const seed = (criteria: ReadonlyArray<string>) => json({ goal: "Do the work", constraints: [], acceptance_criteria: criteria, ontology: null })

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: apt-get install -y chromium (.ci/run does)`)
  // builds the UI when it is missing or older than its sources (npm test has just built it)
  execFileSync(process.execPath, [join(ROOT, "gateway", "web", "scripts", "ensureBuilt.mjs")], { cwd: ROOT, stdio: "inherit" })
  mkdirSync(SCREENSHOTS, { recursive: true })
  fake = await startFakeOpenAi()
  server = await startServer({ dataDir: tempDir(), env: { ANNAL_MODEL_PATH: "", ANNAL_LLM_BASE_URL: fake.url, ANNAL_LLM_MODEL: "fake" } })
  await server.json("/api/config", { method: "PUT", body: JSON.stringify({ security: { rate_limit_per_minute: 100_000 }, tools: { policies: { write: "on_demand" } } }) })
  // launch() gives the browser a fresh temporary profile of its own
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
  })
  context = await browser.newContext({ viewport: { width: 1200, height: 760 } })
  page = await context.newPage()
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`)
  })
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`))
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await server?.stop()
  await fake?.close()
})

/** No serious or critical accessibility violation on the page as it is now. */
const checkAccessibility = async () => {
  const results = await new AxeBuilder({ page }).analyze()
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
  expect(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`)).toEqual([])
}

const shoot = (name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) })

describe("the web UI", () => {
  it("asks for the token once and signs in with it", async () => {
    await page.goto(server.url)
    await page.getByLabel("API token").fill("not-the-token")
    await page.getByRole("button", { name: "Sign in" }).click()
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("not accepted")
    await checkAccessibility()
    await shoot("sign-in")
    // Chromium logs the refused sign-in's 401 as a failed resource: that one was asked for
    problems.splice(0)
    await page.getByLabel("API token").fill(server.token)
    await page.getByRole("button", { name: "Sign in" }).click()
    await page.getByRole("heading", { name: "Sessions" }).waitFor()
    const cookies = await context.cookies()
    expect(cookies.find((c) => c.name === "annal_session")).toMatchObject({ httpOnly: true, sameSite: "Strict" })
    // a reload stays signed in
    await page.reload()
    await page.getByRole("heading", { name: "Sessions" }).waitFor()
  }, 60_000)

  it("chats: tokens stream in, an approval is approved inline, the reply is rendered Markdown", async () => {
    const words = "**Done:** wrote `hello.txt` with a greeting in it for you, as asked, and here is how to read it back:"
    fake.script.push(
      clear,
      seed(["`hello.txt` exists"]),
      { toolCalls: [{ name: "write", arguments: { path: "hello.txt", content: "hello" } }] },
      // a model's text may carry HTML meant to run: it must arrive inert
      { text: `${words}\n\n\`\`\`js\nconsole.log("hello")\n\`\`\`\n\n<img src="x" onerror="alert(1)"> [link](javascript:alert(2)) <script>alert(3)</script>`, delayMs: 120 },
      passed
    )
    await page.getByLabel("Message").fill("please write hello.txt")
    await page.getByLabel("Message").press("Enter")
    const approve = page.getByRole("button", { name: "Approve" })
    await approve.waitFor({ timeout: 30_000 })
    await expect.poll(() => page.locator(".approval").textContent()).toContain("use_tool:write")
    await approve.click()
    // the text grows word by word before the reply lands
    const streaming = page.getByTestId("streaming")
    await streaming.waitFor({ timeout: 30_000 })
    const partial = (await streaming.textContent()) ?? ""
    expect(partial.length).toBeGreaterThan(0)
    expect(partial.length).toBeLessThan(words.length)
    const reply = page.locator(".reply")
    await reply.waitFor({ timeout: 30_000 })
    expect(await reply.locator("strong").first().textContent()).toBe("Done:")
    expect(await reply.locator("code.hljs.language-js").count()).toBe(1)
    expect(await reply.locator("code.hljs .hljs-string").first().textContent()).toBe(`"hello"`)
    // the HTML in the text is shown as text; the javascript: link lost its href
    expect(await reply.locator("script, img, [onerror], a[href^='javascript']").count()).toBe(0)
    expect(await reply.textContent()).toContain(`<img src="x" onerror="alert(1)">`)
    await expect.poll(() => page.locator(".approval").textContent()).toContain("approved")
    await expect.poll(() => page.locator(".timeline").first().textContent()).toContain("write")
    // the session is listed and has its own address
    await expect.poll(() => page.url()).toMatch(/\/chat\/[0-9a-f-]{36}$/)
    await expect.poll(() => page.locator(".sessions li").count()).toBe(1)
    expect(await (await server.fetch("/api/workspace/file/hello.txt")).text()).toBe("hello")
    await checkAccessibility()
    await shoot("chat")
  }, 120_000)

  it("shows the record: the run's events, new ones live, an event's hashes, and the chain verified", async () => {
    await page.getByRole("link", { name: "The record" }).click()
    await page.getByRole("heading", { name: "The record" }).waitFor()
    const list = page.getByRole("listbox", { name: "The record" })
    await expect.poll(() => list.getByRole("option").count(), { timeout: 20_000 }).toBeGreaterThan(10)
    await page.getByLabel("Type").fill("approval")
    await expect.poll(() => list.textContent()).toContain("approval_requested")
    // an event appended now appears without a reload
    await page.getByLabel("Type").fill("memory_stored")
    expect(await list.getByRole("option").count()).toBe(0)
    expect((await server.json("/api/memory", { method: "POST", body: JSON.stringify({ content: "the record is live" }) })).status).toBe(200)
    await expect.poll(() => list.getByRole("option").count(), { timeout: 20_000 }).toBe(1)
    await list.getByRole("option").first().click()
    await expect.poll(() => page.getByRole("complementary", { name: "Event detail" }).textContent()).toMatch(/sha256:[0-9a-f]{64}/)
    // the event's stream, every event of it
    await page.getByRole("button", { name: /^Every event of / }).click()
    expect(await page.getByLabel("Type").inputValue()).toBe("")
    expect(await page.getByLabel("Stream").inputValue()).not.toBe("")
    await expect.poll(() => list.textContent()).toContain("memory_stored")
    await expect.poll(() => list.getByRole("option").count()).toBeGreaterThanOrEqual(1)
    await page.getByRole("button", { name: "Verify the chain" }).click()
    await expect.poll(() => page.getByRole("status").filter({ hasText: "Chain" }).textContent(), { timeout: 20_000 }).toMatch(/Chain valid: \d+ events verified/)
    await page.getByLabel("Stream").fill("")
    await checkAccessibility()
    await shoot("record")
  }, 90_000)

  it("works at 375 px wide in the dark theme", async () => {
    await page.setViewportSize({ width: 375, height: 760 })
    await page.getByLabel("Switch theme").selectOption("dark")
    // the theme is applied by an effect after the change: wait for it rather than read at once
    await page.waitForFunction(() => document.documentElement.dataset.theme === "dark", undefined, { timeout: 5_000 })
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe("dark")
    // the record page is open: its list, filters and detail must fit without a sideways scroll
    expect(await page.getByRole("heading", { name: "The record" }).count()).toBe(1)
    expect(await widerThanViewport(page)).toEqual([])
    await checkAccessibility()
    await shoot("record-375-dark")
    await page.getByLabel("Switch theme").selectOption("system")
    await page.setViewportSize({ width: 1200, height: 760 })
  }, 60_000)

  it("logs no console error or warning on any page", () => {
    expect(problems).toEqual([])
  })
})
