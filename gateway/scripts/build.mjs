// Builds the `annal` command into gateway/dist/annal.cjs: one CommonJS file bundling Annal's own
// TypeScript packages and the pure-JavaScript libraries they use, so a start reads one file
// instead of loading hundreds of modules through a TypeScript loader. Packages with native
// bindings or files they load by path at run time stay in node_modules (EXTERNAL). CommonJS
// rather than an ES module because gateway/bin/annal.js compiles it through V8's code cache,
// which Node 20 offers only for scripts (vm.Script), not for ES modules.
import { build } from "esbuild"
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs"
import { readFile } from "node:fs/promises"
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

/** Loaded from node_modules with import(): ES-module-only packages, which require() cannot load on Node 20. */
const EXTERNAL_ESM = ["node-llama-cpp"]

/**
 * The sources' `import("node-llama-cpp")` becomes `__annalImport("node-llama-cpp")`, the import()
 * of gateway/bin/annal.js: Node 20 forgets a vm.Script's dynamic-import callback when the script
 * comes from V8's code cache, so an import() inside the bundle would fail on every cached start.
 */
const importThroughLoader = {
  name: "import-through-loader",
  setup(build) {
    const pattern = new RegExp(`\\bimport\\((["'])(${EXTERNAL_ESM.join("|")})\\1\\)`, "g")
    build.onLoad({ filter: /[/\\](kernel|store|programs|gateway|spec)[/\\]src[/\\].*\.ts$/ }, async (args) => {
      const text = await readFile(args.path, "utf8")
      return { contents: text.replace(pattern, "__annalImport($1$2$1)"), loader: "ts" }
    })
  }
}

/** Builds dist/annal.cjs (written beside, then renamed, so a reader never sees half a file). */
export const buildAnnal = async () => {
  mkdirSync(DIST, { recursive: true })
  const partial = join(DIST, `annal.${process.pid}.tmp.cjs`)
  await build({
    entryPoints: [join(GATEWAY, "src", "cli.ts")],
    outfile: partial,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    external: EXTERNAL,
    sourcemap: "linked",
    legalComments: "none",
    minify: true,
    keepNames: true, // Effect and its errors name things by their class and function names
    logLevel: "warning",
    plugins: [importThroughLoader],
    // the sources are ES modules: strict, and import.meta names the bundle's own file, as in an ES module bundle
    define: { "import.meta.url": "__annalModuleUrl", "import.meta.dirname": "__dirname", "import.meta.filename": "__filename" },
    banner: { js: '"use strict"; const __annalModuleUrl = require("node:url").pathToFileURL(__filename).href;' }
  })
  renameSync(`${partial}.map`, join(DIST, "annal.cjs.map"))
  renameSync(partial, join(DIST, "annal.cjs"))
  // the code cache of the previous build (gateway/bin/annal.js also checks the digest it names),
  // and the ES module bundle earlier builds wrote
  for (const old of ["annal.cjs.cache", "annal.js", "annal.js.map"]) rmSync(join(DIST, old), { force: true })
  // the sandbox's runner is a file Node runs by path (programs/src/Sandbox.ts: ./sandbox/runner.mjs)
  const runner = join(DIST, "sandbox", "runner.mjs")
  mkdirSync(dirname(runner), { recursive: true })
  copyFileSync(join(ROOT, "programs", "src", "sandbox", "runner.mjs"), runner)
}

/** The newest modification time under a path (a file's own, or the newest of a folder's files). */
const newest = (path) => {
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))))
}

/** What the bundle is made of: the packages' sources, this script, and the installed libraries. */
const INPUTS = [
  ...["spec", "store", "kernel", "programs", "gateway"].map((p) => join(ROOT, p, "src")),
  import.meta.filename,
  join(ROOT, "package-lock.json")
]

/** dist/annal.cjs is missing or older than something it is built from. */
export const isStale = () => {
  const built = join(DIST, "annal.cjs")
  if (!existsSync(built) || !existsSync(join(DIST, "sandbox", "runner.mjs"))) return true
  return Math.max(...INPUTS.filter(existsSync).map(newest)) > statSync(built).mtimeMs
}

// `--if-stale` (the tests' global setup): only when the build is older than its sources
if (process.argv[1] === import.meta.filename) {
  if (process.argv.includes("--if-stale") && !isStale()) process.exit(0)
  const started = performance.now()
  await buildAnnal()
  console.error(`built gateway/dist/annal.cjs in ${Math.round(performance.now() - started)} ms`)
}
