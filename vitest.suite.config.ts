/**
 * `npm test`: every package's tests (vitest.config.ts's) as one pool. Vitest runs the projects of
 * a run one after another, each in workers of its own that import the whole tree again, and
 * waits for a project's last file before starting the next: five projects paid five imports
 * per worker and five tails with one core idle. Here the two workers take the next file,
 * whichever package it is in, until none is left.
 */
import { defineConfig } from "vitest/config"
import { packages, shared, TMPDIR_SETUP } from "./vitest.config.js"

export default defineConfig({
  ...shared,
  test: {
    ...shared.test,
    include: packages.map((p) => p.include),
    globalSetup: [TMPDIR_SETUP, ...packages.flatMap((p) => (p.globalSetup === undefined ? [] : [p.globalSetup]))]
  }
})
