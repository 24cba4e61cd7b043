#!/usr/bin/env node
// The `annal` command: the compiled build (`npm run build` writes gateway/dist/annal.cjs), run
// through V8's code cache. Parsing and compiling the 5 MB bundle was most of an empty start, and
// Node 20 has no module.enableCompileCache, so the bundle is compiled here as a vm.Script with
// the data of an earlier run: gateway/dist/annal.cjs.cache holds the bundle's SHA-256, then V8's
// cached data (used only when the digest matches). A run that found none it could use (the first
// after a build, another Node version or V8 flags) writes it as it exits, where it may write.
import { createHash } from "node:crypto"
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname } from "node:path"
import { fileURLToPath } from "node:url"
import { Script } from "node:vm"

const file = fileURLToPath(new URL("../dist/annal.cjs", import.meta.url))
if (!existsSync(file)) {
  process.stderr.write("annal: gateway/dist/annal.cjs is missing; build it with `npm run build`\n")
  process.exit(1)
}
const source = readFileSync(file)
const digest = createHash("sha256").update(source).digest()
const cacheFile = `${file}.cache`
let cachedData
try {
  const cache = readFileSync(cacheFile)
  if (cache.subarray(0, digest.length).equals(digest)) cachedData = cache.subarray(digest.length)
} catch {
  // no cache yet: this run writes one
}

// The bundle's import() of ES-module-only packages (node-llama-cpp) comes here, as `__annalImport`
// (gateway/scripts/build.mjs): a vm.Script's own dynamic-import callback is lost on Node 20 when
// the script is compiled from cached data.
const script = new Script(`(function (exports, require, module, __filename, __dirname, __annalImport) {${source.toString("utf8")}\n})`, {
  filename: file,
  cachedData
})
if (cachedData === undefined || script.cachedDataRejected) {
  // at exit the cache also holds what this run compiled lazily (the start's code, not only the top level)
  process.once("exit", () => {
    const partial = `${cacheFile}.${process.pid}.tmp`
    try {
      writeFileSync(partial, Buffer.concat([digest, script.createCachedData()]))
      renameSync(partial, cacheFile)
    } catch {
      rmSync(partial, { force: true })
    }
  })
}
const module = { exports: {} }
script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file), (specifier) => import(specifier))
module.exports.main()
