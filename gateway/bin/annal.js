#!/usr/bin/env node
// The `annal` command: the compiled build (`npm run build` writes gateway/dist/annal.js).
import { existsSync } from "node:fs"

const compiled = new URL("../dist/annal.js", import.meta.url)
if (!existsSync(compiled)) {
  process.stderr.write("annal: gateway/dist/annal.js is missing; build it with `npm run build`\n")
  process.exit(1)
}
const { main } = await import(compiled.href)
main()
