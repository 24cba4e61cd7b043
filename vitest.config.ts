import { defineConfig } from "vitest/config"

/** Each package's tests, and what must exist before they start (besides the run's temp folder). */
export const packages: ReadonlyArray<{ readonly name: string; readonly include: string; readonly globalSetup?: string }> = [
  { name: "store", include: "store/test/**/*.test.ts" },
  { name: "kernel", include: "kernel/test/**/*.test.ts" },
  { name: "programs", include: "programs/test/**/*.test.ts" },
  // the gateway's process tests (the CLI, kill -9, the lock) run the compiled build
  { name: "gateway", include: "gateway/test/**/*.test.ts", globalSetup: "./gateway/test/globalSetup.ts" },
  // the web UI: component tests and the browser end to end (it builds the UI when stale); its
  // servers run in the test process, so it needs no compiled gateway
  { name: "web", include: "gateway/web/test/**/*.test.{ts,tsx}", globalSetup: "./gateway/web/test/globalSetup.ts" }
]

export const TMPDIR_SETUP = "./vitest.tmpdir.ts"

/** What every run shares, one package's or all of them (vitest.suite.config.ts). */
export const shared = defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    // A worker keeps the modules it loaded from one test file to the next: every file imports the
    // whole tree, and re-importing it per file was most of the run (kernel: 141 s → 46 s). Tests
    // share no module state on purpose: each builds its own layers over its own temp directory.
    isolate: false
  },
  // the web UI's component tests render Preact's JSX
  esbuild: { jsx: "automatic", jsxImportSource: "preact" }
})

/** One project per package: `vitest --project gateway` runs one package's tests alone. */
export default defineConfig({
  ...shared,
  test: {
    ...shared.test,
    projects: packages.map(({ name, include, globalSetup }) => ({
      extends: true as const,
      test: { name, include: [include], globalSetup: [TMPDIR_SETUP, ...(globalSetup === undefined ? [] : [globalSetup])] }
    }))
  }
})
