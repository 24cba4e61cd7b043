// Finds `path:line[:column]` references in a stack trace and shows the workspace lines around
// each. Runs in Annal's module sandbox: it can read the workspace and nothing outside it.
import { existsSync, readFileSync, statSync } from "node:fs"
import { isAbsolute, join, relative } from "node:path"

const REFERENCE = /((?:[A-Za-z]:)?[\w./@-]+\.[A-Za-z0-9]+):(\d+)(?::(\d+))?/g

export default function locate({ trace, context }, { workspace }) {
  const around = Math.max(0, Math.min(context ?? 3, 20))
  const seen = new Set()
  const blocks = []
  for (const match of trace.matchAll(REFERENCE)) {
    const [, rawPath, lineText] = match
    const path = isAbsolute(rawPath) ? relative(workspace, rawPath) : rawPath.replace(/^\.\//, "")
    const key = `${path}:${lineText}`
    if (path.startsWith("..") || seen.has(key)) continue
    seen.add(key)
    const file = join(workspace, path)
    if (!existsSync(file) || !statSync(file).isFile()) continue
    const lines = readFileSync(file, "utf8").split("\n")
    const line = Number(lineText)
    const from = Math.max(1, line - around)
    const to = Math.min(lines.length, line + around)
    const shown = []
    for (let n = from; n <= to; n++) shown.push(`${n === line ? ">" : " "} ${String(n).padStart(5)} | ${lines[n - 1]}`)
    blocks.push(`${path}:${line}\n${shown.join("\n")}`)
    if (blocks.length >= 20) break
  }
  return blocks.length === 0 ? "no workspace file:line references found in the trace" : blocks.join("\n\n")
}
