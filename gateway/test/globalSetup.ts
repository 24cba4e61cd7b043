/** Builds the compiled `annal` (gateway/dist) once before the gateway's tests: the process tests run it. */
import { execFileSync } from "node:child_process"
import { join, resolve } from "node:path"

export default function setup() {
  const root = resolve(import.meta.dirname, "..", "..")
  execFileSync(process.execPath, [join(root, "gateway", "scripts", "build.mjs")], { stdio: "inherit" })
}
