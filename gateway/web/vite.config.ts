/**
 * Builds the UI into `dist/` for the gateway to serve at `/`: hashed file names under `assets/`,
 * no inline script (the server's Content-Security-Policy allows none), and a `.br` and `.gz`
 * beside each text file so the server sends them compressed without compressing per request.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { brotliCompressSync, constants, gzipSync } from "node:zlib"
import { defineConfig, type Plugin } from "vite"

const COMPRESSIBLE = /\.(html|js|css|svg|json|txt|webmanifest)$/

const precompress = (): Plugin => ({
  name: "annal-precompress",
  apply: "build",
  closeBundle() {
    const dist = join(import.meta.dirname, "dist")
    const walk = (dir: string): Array<string> =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]))
    for (const file of walk(dist)) {
      if (!COMPRESSIBLE.test(file)) continue
      const body = readFileSync(file)
      writeFileSync(`${file}.br`, brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }))
      writeFileSync(`${file}.gz`, gzipSync(body, { level: 9 }))
    }
  }
})

export default defineConfig({
  root: import.meta.dirname,
  base: "/",
  publicDir: "public",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // the polyfill would be an inline script; every browser the UI supports has modulepreload
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 400
  },
  plugins: [precompress()],
  logLevel: "warn"
})
