// Builds the `annal` command into gateway/dist/annal.js: one ES module bundling Annal's own
// TypeScript packages and the pure-JavaScript libraries they use, so a start parses one file
// instead of loading hundreds of modules through a TypeScript loader. Packages with native
// bindings or files they load by path at run time stay in node_modules (EXTERNAL).
import { build } from "esbuild"
import { copyFileSync, mkdirSync, renameSync } from "node:fs"
import { dirname, join, resolve } from "node:path"

const GATEWAY = resolve(import.meta.dirname, "..")
const ROOT = resolve(GATEWAY, "..")
const DIST = join(GATEWAY, "dist")

/** Loaded from node_modules at run time: native addons, and packages that load files by path. */
export const EXTERNAL = [
  "better-sqlite3", // native addon
  "hnswlib-node", // native addon
  "node-llama-cpp", // native addons and its own binaries, found relative to the package
  "msgpackr", // optional native msgpackr-extract
  "tsx" // resolved by path for programs' module tools (`node --import <tsx>`)
]

/** Builds dist/annal.js (written beside, then renamed, so a reader never sees half a file). */
export const buildAnnal = async () => {
  mkdirSync(DIST, { recursive: true })
  const partial = join(DIST, `annal.${process.pid}.tmp.js`)
  await build({
    entryPoints: [join(GATEWAY, "src", "cli.ts")],
    outfile: partial,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: EXTERNAL,
    sourcemap: "linked",
    legalComments: "none",
    minify: true,
    keepNames: true, // Effect and its errors name things by their class and function names
    logLevel: "warning",
    // CommonJS libraries in an ES module bundle call require() for Node's built-ins
    banner: { js: 'import { createRequire as __annalCreateRequire } from "node:module"; const require = __annalCreateRequire(import.meta.url);' }
  })
  renameSync(`${partial}.map`, join(DIST, "annal.js.map"))
  renameSync(partial, join(DIST, "annal.js"))
  // the sandbox's runner is a file Node runs by path (programs/src/Sandbox.ts: ./sandbox/runner.mjs)
  const runner = join(DIST, "sandbox", "runner.mjs")
  mkdirSync(dirname(runner), { recursive: true })
  copyFileSync(join(ROOT, "programs", "src", "sandbox", "runner.mjs"), runner)
}

if (process.argv[1] === import.meta.filename) {
  const started = performance.now()
  await buildAnnal()
  console.error(`built gateway/dist/annal.js in ${Math.round(performance.now() - started)} ms`)
}
