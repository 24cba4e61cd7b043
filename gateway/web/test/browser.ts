/**
 * What the browser end-to-end files share: Debian's Chromium driven by playwright-core (one
 * browser per run, each file in a context of its own), a real Annal server on a random port with the fake
 * OpenAI-compatible model, sign-in through the form, and the checks every page passes — axe-core
 * with no serious or critical violation, no sideways scroll at 375 px, light and dark, and no
 * console error or warning — with its screenshot in docs/screenshots/.
 */
import type { AxeResults } from "axe-core"
import { mkdirSync, readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { join } from "node:path"
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, expect, inject } from "vitest"
import { type FakeOpenAi, startFakeOpenAi } from "../../../kernel/test/fixtures/fakeOpenAi.js"
import { ROOT, type RunningServer, startServer, tempDir } from "../../test/harness.js"

export const SCREENSHOTS = join(ROOT, "docs", "screenshots")

/**
 * The elements that reach past the viewport's right edge (none means no sideways scroll), each
 * named so a failure says what to fix. Only the outermost offender of each branch is listed.
 */
export const widerThanViewport = (page: Page): Promise<ReadonlyArray<string>> =>
  page.evaluate(() => {
    const width = document.documentElement.clientWidth
    if (document.documentElement.scrollWidth <= width) return []
    const name = (el: Element) => `${el.tagName.toLowerCase()}${el.id === "" ? "" : `#${el.id}`}${el.classList.length === 0 ? "" : `.${[...el.classList].join(".")}`}`
    const out: Array<string> = []
    const walk = (el: Element) => {
      // a scroll container keeps what overflows it inside itself
      const style = getComputedStyle(el)
      if (el.getBoundingClientRect().right > width + 0.5) {
        out.push(`${name(el)} reaches ${Math.round(el.getBoundingClientRect().right)} px of ${width}`)
        return
      }
      if (style.overflowX === "auto" || style.overflowX === "scroll" || style.overflowX === "hidden") return
      // text that does not wrap (a long id) overflows its element without any element doing so
      if (el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0 && el.getBoundingClientRect().left + el.scrollWidth > width + 0.5) {
        out.push(`${name(el)}'s content reaches ${Math.round(el.getBoundingClientRect().left + el.scrollWidth)} px of ${width}`)
        return
      }
      for (const child of el.children) walk(child)
    }
    for (const child of document.body.children) walk(child)
    return out.length === 0 ? [`scrollWidth ${document.documentElement.scrollWidth} > ${width}`] : out
  })

export interface Ui {
  readonly fake: FakeOpenAi
  readonly server: RunningServer
  readonly browser: Browser
  readonly context: BrowserContext
  readonly page: Page
  /** Console errors and warnings and page errors seen so far. */
  readonly problems: Array<string>
  readonly close: () => Promise<void>
}

let shared: Promise<Browser> | undefined

/**
 * The run's one Chromium (launched by the global setup), connected to once per worker and reused
 * by every later file of the same worker (the workers keep loaded modules between files). Each
 * file still gets a fresh context — its own cookies, storage and pages.
 */
export const sharedBrowser = (): Promise<Browser> => {
  if (shared === undefined) {
    const connecting = chromium.connect(inject("chromiumEndpoint"))
    shared = connecting
    // a connection that dropped or failed is made again by the next file
    connecting.then((b) => b.on("disconnected", () => shared === connecting && (shared = undefined)), () => shared === connecting && (shared = undefined))
  }
  return shared
}

export interface UiOptions {
  readonly env?: Record<string, string>
  /** A configuration change applied before the page opens (`PUT /api/config`). */
  readonly config?: Record<string, unknown>
  /** Sign in through the form (default); false leaves the page at the sign-in form. */
  readonly signIn?: boolean
  /** Fills the data directory before the server opens it (e.g. a long log written through the store). */
  readonly prepare?: (dataDir: string) => Promise<void>
}

/**
 * Starts the fake model and the server, opens a page in the run's browser, and signs in through the
 * form. The UI is built (when stale) by the global setup, once before any file starts.
 */
export const openUi = async (options: UiOptions = {}): Promise<Ui> => {
  mkdirSync(SCREENSHOTS, { recursive: true })
  const browser = sharedBrowser()
  const dataDir = tempDir()
  await options.prepare?.(dataDir)
  const fake = await startFakeOpenAi()
  const server = await startServer({
    dataDir,
    env: { ANNAL_MODEL_PATH: "", ANNAL_LLM_BASE_URL: fake.url, ANNAL_LLM_MODEL: "fake", ...options.env }
  })
  await server.json("/api/config", { method: "PUT", body: JSON.stringify({ security: { rate_limit_per_minute: 100_000 } }) })
  if (options.config !== undefined) {
    const changed = await server.json("/api/config", { method: "PUT", body: JSON.stringify(options.config) })
    if (changed.status !== 200) throw new Error(`configuration refused: ${JSON.stringify(changed.body)}`)
  }
  const context = await (await browser).newContext({ viewport: { width: 1200, height: 760 } })
  const page = await context.newPage()
  const problems: Array<string> = []
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`)
  })
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`))
  await page.goto(server.url)
  if (options.signIn !== false) {
    await page.getByLabel("API token").fill(server.token)
    await page.getByRole("button", { name: "Sign in" }).click()
    await page.getByRole("heading", { name: "Sessions" }).waitFor()
  }
  return {
    fake, server, browser: await browser, context, page, problems,
    close: async () => {
      await context.close()
      await server.stop()
      await fake.close()
    }
  }
}

/** Opens a page of the UI from the navigation, the way a person would, and waits for its heading. */
export const openPage = async (page: Page, link: string, heading = link) => {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: link, exact: true }).click()
  await page.getByRole("heading", { name: heading, level: 1 }).waitFor()
}

/** axe-core's browser build: evaluated in a document once, then run there as often as a check asks. */
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8")

/**
 * No serious or critical accessibility violation on the page as it is now: axe-core's default
 * rules over the whole document. axe is injected once per document (the UI navigates inside one),
 * not once per check: evaluating its 550 kB source again took most of each check (5–9 s per check
 * through @axe-core/playwright at load 10, of which axe's own run was 0.6 s).
 */
export const checkAccessibility = async (page: Page) => {
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(AXE_SOURCE)
  const results = await page.evaluate(() => (window as unknown as { axe: { run: (context: Document) => Promise<AxeResults> } }).axe.run(document))
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
  expect(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`)).toEqual([])
}

/**
 * Every control of the page is reached with Tab alone, in the page's own order: each visible,
 * enabled control in <main> (one per radio group, as browsers tab to the chosen radio) gets the
 * focus before Tab leaves <main>.
 */
export const checkKeyboard = async (page: Page) => {
  const controls = await page.evaluate(() => {
    const all = [...document.querySelectorAll<HTMLElement>(
      "main a[href], main button:not([disabled]), main input:not([disabled]):not([type=radio]), main input[type=radio]:checked, main select:not([disabled]), main textarea:not([disabled]), main summary, main [tabindex='0']"
    )].filter((el) => el.offsetParent !== null || getComputedStyle(el).position === "fixed")
    all.forEach((el, i) => (el.dataset.kb = String(i)))
    return all.length
  })
  await page.locator("main").focus()
  const reached = new Set<string>()
  // Tab walks main's stops in order until focus leaves main; Chromium also stops on scrollable
  // boxes (a long <pre>), which are no controls, so the walk is bounded by leaving, not by count
  for (let i = 0; i < 2 * controls + 10 && reached.size < controls; i++) {
    await page.keyboard.press("Tab")
    const at = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null
      return { kb: el?.dataset.kb, inMain: el?.closest("main") != null }
    })
    if (at.kb !== undefined) reached.add(at.kb)
    if (!at.inMain) break
  }
  const missed = await page.evaluate((seen) => [...document.querySelectorAll<HTMLElement>("[data-kb]")].filter((el) => !seen.includes(el.dataset.kb!)).map((el) => el.outerHTML.slice(0, 100)), [...reached])
  expect(missed).toEqual([])
}

/**
 * The checks every page passes as it is now: reachable with the keyboard alone, accessible in the light theme at desktop width
 * (photographed as `<name>.png`; the whole page with `fullPage`, else what fits the window), then at 375 px in the dark theme with no sideways scroll and
 * still accessible (photographed as `<name>-375-dark.png`); the page is left as it was found.
 */
export const checkPage = async (page: Page, name: string, options: { readonly fullPage?: boolean } = {}) => {
  await checkKeyboard(page)
  // the walk left the focus (and the scroll) at the page's last control: photograph it from the top
  await page.evaluate(() => {
    ;(document.activeElement as HTMLElement | null)?.blur()
    window.scrollTo(0, 0)
  })
  await checkAccessibility(page)
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: options.fullPage ?? false })
  await page.setViewportSize({ width: 375, height: 760 })
  await page.getByLabel("Switch theme").selectOption("dark")
  await page.waitForFunction(() => document.documentElement.dataset.theme === "dark", undefined, { timeout: 5_000 })
  try {
    expect(await widerThanViewport(page)).toEqual([])
    await checkAccessibility(page)
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-375-dark.png`), fullPage: options.fullPage ?? false })
  } finally {
    await page.getByLabel("Switch theme").selectOption("system")
    await page.setViewportSize({ width: 1200, height: 760 })
  }
}

/**
 * A test file's UI: opened before its tests, closed after them. The returned object reads
 * through to the open UI, so a test uses it as it would the `Ui` itself.
 */
export const useUi = (options: UiOptions = {}): Ui => {
  let ui: Ui | undefined
  beforeAll(async () => {
    ui = await openUi(options)
  }, 120_000)
  afterAll(async () => {
    await ui?.close()
  })
  return new Proxy({} as Ui, { get: (_, key) => (ui as unknown as Record<PropertyKey, unknown>)[key] })
}
