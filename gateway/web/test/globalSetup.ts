/**
 * Before the web tests' files start: builds the UI when it is missing or older than its sources
 * (once, before any file could find it stale, so no two build into the same dist/ together), and
 * launches the run's one Chromium, which every file's worker connects to (`sharedBrowser` in
 * browser.ts) and closed when the run ends: a launch per worker was seconds of a busy machine.
 */
import { execFileSync } from "node:child_process"
import { existsSync } from "node:fs"
import { join, resolve } from "node:path"
import { chromium } from "playwright-core"
import type { TestProject } from "vitest/node"

const CHROMIUM = "/usr/bin/chromium"

declare module "vitest" {
  export interface ProvidedContext {
    /** The run's Chromium, for `chromium.connect`. */
    readonly chromiumEndpoint: string
  }
}

export const setup = async (project: TestProject) => {
  const root = resolve(import.meta.dirname, "..", "..", "..")
  execFileSync(process.execPath, [join(root, "gateway", "web", "scripts", "ensureBuilt.mjs")], { cwd: root, stdio: "inherit" })
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: apt-get install -y chromium (.ci/run does)`)
  const browser = await chromium.launchServer({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
  })
  project.provide("chromiumEndpoint", browser.wsEndpoint())
  return () => browser.close()
}
