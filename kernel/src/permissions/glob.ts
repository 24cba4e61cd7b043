/** Path globs over workspace-relative paths (picomatch), compiled once per pattern. */
import { createRequire } from "node:module"

type Matcher = (path: string) => boolean
type Picomatch = (pattern: string, options?: { readonly dot?: boolean; readonly nocase?: boolean }) => Matcher

// picomatch ships no type declarations; it is loaded through require with the one signature used here.
const picomatch = createRequire(import.meta.url)("picomatch") as Picomatch

const cache = new Map<string, Matcher>()
const CACHE_LIMIT = 10_000

/** A pattern as written, read relative to the workspace root: `/src/` → `src`, `/` → `.`. */
export const normalizePattern = (pattern: string): string => {
  const trimmed = pattern.replace(/^(\.\/|\/)+/, "").replace(/\/+$/, "")
  return trimmed === "" || trimmed === "." ? "." : trimmed
}

const compile = (pattern: string, nocase: boolean): Matcher => {
  const key = `${nocase ? "i" : "c"}:${pattern}`
  let matcher = cache.get(key)
  if (matcher === undefined) {
    const options = { dot: true, nocase }
    const self = picomatch(pattern, options)
    // `src` also covers `src/a.ts`: a pattern matches what it names and everything beneath it
    const beneath = picomatch(`${pattern}/**`, options)
    matcher = (path) => self(path) || beneath(path)
    if (cache.size >= CACHE_LIMIT) cache.clear()
    cache.set(key, matcher)
  }
  return matcher
}

/**
 * Whether a workspace-relative path (`.` for the root) falls under a pattern. The root is
 * covered only by `**` and `.` (the root itself).
 */
export const matches = (pattern: string, path: string, options: { readonly nocase?: boolean } = {}): boolean => {
  const p = normalizePattern(pattern)
  if (path === ".") return p === "**" || p === "."
  if (p === ".") return true
  return compile(p, options.nocase === true)(path)
}
