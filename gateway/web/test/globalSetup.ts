/**
 * Builds the UI once before the web tests' files start: each browser file also makes sure it is
 * built, and two files finding it stale at once would build into the same dist/ together.
 */
import { execFileSync } from "node:child_process"
import { join, resolve } from "node:path"

export const setup = () => {
  const root = resolve(import.meta.dirname, "..", "..", "..")
  execFileSync(process.execPath, [join(root, "gateway", "web", "scripts", "ensureBuilt.mjs")], { cwd: root, stdio: "inherit" })
}
