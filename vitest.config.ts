import { defineConfig } from "vitest/config"

/** One project per package: `vitest --project gateway` runs one package's tests alone. */
const packageProject = (name: string, globalSetup: ReadonlyArray<string> = []) => ({
  extends: true as const,
  test: { name, include: [`${name}/test/**/*.test.ts`], globalSetup: ["./vitest.tmpdir.ts", ...globalSetup] }
})

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    // A worker keeps the modules it loaded from one test file to the next: every file imports the
    // whole tree, and re-importing it per file was most of the run (kernel: 141 s → 46 s). Tests
    // share no module state on purpose: each builds its own layers over its own temp directory.
    isolate: false,
    projects: [
      packageProject("store"),
      packageProject("kernel"),
      packageProject("programs"),
      // the gateway's process tests (the CLI, kill -9, the lock) run the compiled build
      packageProject("gateway", ["./gateway/test/globalSetup.ts"]),
      // the web UI: component tests and the browser end to end (it builds the UI when stale); its
      // servers run in the test process, so it needs no compiled gateway
      { extends: true as const, test: { name: "web", include: ["gateway/web/test/**/*.test.{ts,tsx}"], globalSetup: ["./vitest.tmpdir.ts", "./gateway/web/test/globalSetup.ts"] } }
    ]
  },
  // the web UI's component tests render Preact's JSX
  esbuild: { jsx: "automatic", jsxImportSource: "preact" }
})
