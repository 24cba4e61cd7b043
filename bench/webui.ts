/**
 * bench:webui — the web UI's two budgets: the initial JavaScript (what index.html loads before
 * anything is clicked), gzipped, against 150 KB; and how long the chat page takes to be
 * interactive in Debian's Chromium (navigation start until the message box is rendered, on the
 * page's own clock; the run then checks that it takes a keystroke),
 * signed in, against a real server on a random port, against 1000 ms. The baseline beside each is
 * its budget: the ratio is ours / budget (below 1 is within it). Median of RUNS loads, each in a
 * fresh browser context with an empty cache.
 *
 *   npm run bench:webui            (builds the UI first when it is stale)
 */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { gzipSync } from "node:zlib"
import { chromium } from "playwright-core"
import { startServer } from "../gateway/test/harness.js"

const ROOT = resolve(import.meta.dirname, "..")
const DIST = join(ROOT, "gateway", "web", "dist")
const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const JS_BUDGET_KB = 150
const INTERACTIVE_BUDGET_MS = 1000

execFileSync(process.execPath, [join(ROOT, "gateway", "web", "scripts", "ensureBuilt.mjs")], { stdio: "inherit" })

// the scripts index.html loads (and preloads) up front; lazily loaded pages are not among them
const html = readFileSync(join(DIST, "index.html"), "utf8")
const initial = [...html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*rel="modulepreload"[^>]*\shref)="([^"]+\.js)"/g)].map((m) => m[1]!)
const gzipped = initial.reduce((sum, path) => sum + gzipSync(readFileSync(join(DIST, path)), { level: 9 }).length, 0)
const jsKb = gzipped / 1024
console.log(`initial JavaScript: ${initial.join(", ")} — ${jsKb.toFixed(1)} KB gzipped (budget ${JS_BUDGET_KB} KB, ratio ${(jsKb / JS_BUDGET_KB).toFixed(2)})`)

/** Runs in the page before its scripts: records performance.now() when #message appears. */
const READY_PROBE = `new MutationObserver((_, observer) => {
  if (document.getElementById("message") !== null) { window.__annalChatReady = performance.now(); observer.disconnect() }
}).observe(document, { childList: true, subtree: true })`

const server = await startServer()
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
})
const times: Array<number> = []
try {
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext()
    const page = await context.newPage()
    // signed in through the public sign-in route, so the load opens the chat itself
    const signIn = await page.request.post(`${server.url}/api/auth/session`, { data: { token: server.token }, headers: { origin: server.url } })
    if (!signIn.ok()) throw new Error(`sign-in failed: ${signIn.status()}`)
    // the page notes, on its own clock, when the message box first exists (rendered with its handlers)
    await page.addInitScript(READY_PROBE)
    await page.goto(server.url, { waitUntil: "commit" })
    await page.locator("#message").waitFor()
    await page.locator("#message").pressSequentially("x")
    if ((await page.locator("#message").inputValue()) !== "x") throw new Error("the message box did not take a keystroke")
    times.push(Number(await page.evaluate("window.__annalChatReady")))
    await context.close()
  }
} finally {
  await browser.close()
  await server.stop()
}
times.sort((a, b) => a - b)
const median = times[Math.floor(times.length / 2)]!
console.log(`chat interactive: median ${median.toFixed(0)} ms of ${RUNS} loads (${times.map((t) => t.toFixed(0)).join(", ")}) — budget ${INTERACTIVE_BUDGET_MS} ms, ratio ${(median / INTERACTIVE_BUDGET_MS).toFixed(2)}`)
console.log(JSON.stringify({ bench: "webui-initial-js", ours: Number(jsKb.toFixed(1)), baseline: JS_BUDGET_KB, unit: "KB gzipped", ratio: Number((jsKb / JS_BUDGET_KB).toFixed(3)) }))
console.log(JSON.stringify({ bench: "webui-chat-interactive", ours: Math.round(median), baseline: INTERACTIVE_BUDGET_MS, unit: "ms", ratio: Number((median / INTERACTIVE_BUDGET_MS).toFixed(3)) }))
