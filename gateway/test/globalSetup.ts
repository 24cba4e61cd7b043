/**
 * Builds the compiled `annal` (gateway/dist) before the gateway's tests when it is older than its
 * sources (`npm install` has just built it on a fresh clone): the process tests run it.
 */
import { execFileSync } from "node:child_process"
import { join, resolve } from "node:path"

export default function setup() {
  const root = resolve(import.meta.dirname, "..", "..")
  execFileSync(process.execPath, [join(root, "gateway", "scripts", "build.mjs"), "--if-stale"], { stdio: "inherit" })
}
