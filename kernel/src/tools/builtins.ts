/**
 * The built-in tools: files in the workspace (read, write, edit, ls, grep, find), processes
 * (exec) and memory (memory_store, memory_search). File tools go through the Workspace service,
 * so paths are resolved inside the sandbox and every write is a commit and an event; the walks
 * of grep and find never follow symbolic links and skip what the agent may not access.
 */
import { Effect, Either, Schema } from "effect"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Configuration } from "../config/Configuration.js"
import { Memory } from "../memory/Memory.js"
import { Workspace, type WorkspaceFailure } from "../workspace/Workspace.js"
import { runProcess, safePath } from "./Process.js"
import * as Tool from "./Tool.js"

type Matcher = (path: string) => boolean
// picomatch ships no type declarations; loaded through require with the one signature used here
const picomatch = createRequire(import.meta.url)("picomatch") as (pattern: string, options?: { readonly dot?: boolean }) => Matcher

const failed = (e: WorkspaceFailure | { readonly message: string }) => new Tool.ToolFailed({ message: e.message })

const decoder = new TextDecoder("utf-8")
const encoder = new TextEncoder()

/** Cuts text to the cap in UTF-8 bytes, saying so. */
export const capText = (text: string, capBytes: number): string => {
  const bytes = encoder.encode(text)
  if (bytes.length <= capBytes) return text
  return `${decoder.decode(bytes.subarray(0, capBytes))}\n[output truncated at ${capBytes} bytes of ${bytes.length}]`
}

const Path = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(4096)).annotations({ description: "path relative to the workspace root" })
const Cap = (max: number, description: string) => Schema.optional(Schema.Int.pipe(Schema.between(1, max)).annotations({ description }))

/** Files grep reads at most, and the largest it reads. */
const GREP_MAX_FILE_BYTES = 1024 * 1024
/** Longest line grep tests, so one huge line cannot stall the regex for long. */
const GREP_MAX_LINE = 4096

/** Every entry under the workspace (relative paths), `.git` skipped, symbolic links not followed. */
const walk = (root: string, canAccess: (path: string) => boolean, visit: (path: string, isDir: boolean) => boolean) => {
  const stack: Array<string> = [""]
  while (stack.length > 0) {
    const dir = stack.pop()!
    let entries: Array<fs.Dirent>
    try {
      entries = fs.readdirSync(join(root, dir), { withFileTypes: true })
    } catch {
      continue
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    const subdirs: Array<string> = []
    for (const entry of entries) {
      if (entry.name.toLowerCase() === ".git") continue
      const path = dir === "" ? entry.name : `${dir}/${entry.name}`
      if (!canAccess(path)) continue
      if (entry.isDirectory()) {
        if (!visit(path, true)) return
        subdirs.push(path)
      } else if (entry.isFile()) {
        if (!visit(path, false)) return
      }
    }
    // a directory's entries, then its subdirectories in name order
    stack.push(...subdirs.reverse())
  }
}

/** The built-in tools over the kernel's services. */
export const builtins = Effect.gen(function*() {
  const workspace = yield* Workspace
  const memory = yield* Memory
  const config = yield* Configuration
  const cap = Effect.map(config.current, (c) => c.tools.output_cap_bytes)
  /** Writes a file for a call: placed, committed to the repository and recorded before the call answers. */
  const writeFile = (path: string, content: string, env: Tool.ToolEnv) =>
    workspace.write(path, encoder.encode(content), env.context).pipe(Effect.mapError(failed))
  /** A walk of the tree; an I/O error on the way is the call's failure, not a defect. */
  const walking = (what: string, run: () => void) =>
    Effect.try({ try: run, catch: (e) => new Tool.ToolFailed({ message: `${what} failed: ${e instanceof Error ? e.message : String(e)}` }) })

  const readText = (path: string, env: Tool.ToolEnv) =>
    workspace.read(path, env.context).pipe(
      Effect.mapError(failed),
      Effect.map((bytes) => decoder.decode(bytes))
    )

  const read = Tool.make({
    name: "read",
    description: "Read a text file in the workspace, optionally from line `offset` (1-based) for `limit` lines.",
    args: Schema.Struct({
      path: Path,
      offset: Cap(10_000_000, "first line to return, 1-based"),
      limit: Cap(100_000, "lines to return")
    }),
    access: (a) => ({ paths: [a.path] }),
    run: (a, env) =>
      Effect.gen(function*() {
        const text = yield* readText(a.path, env)
        const lines = text.split("\n")
        const from = (a.offset ?? 1) - 1
        const selected = a.offset === undefined && a.limit === undefined ? text : lines.slice(from, a.limit === undefined ? undefined : from + a.limit).join("\n")
        return { text: capText(selected, yield* cap) }
      })
  })

  const write = Tool.make({
    name: "write",
    description: "Write a text file in the workspace (creating directories); the file is committed to the workspace's history.",
    args: Schema.Struct({ path: Path, content: Schema.String }),
    access: (a) => ({ paths: [a.path] }),
    consequential: () => true,
    run: (a, env) => Effect.map(writeFile(a.path, a.content, env), (w) => ({ text: `wrote ${w.size} bytes to ${w.path}` }))
  })

  const edit = Tool.make({
    name: "edit",
    description: "Replace exactly one occurrence of `old_string` with `new_string` in a workspace file.",
    args: Schema.Struct({ path: Path, old_string: Schema.String.pipe(Schema.minLength(1)), new_string: Schema.String }),
    access: (a) => ({ paths: [a.path] }),
    consequential: () => true,
    run: (a, env) =>
      Effect.gen(function*() {
        const text = yield* readText(a.path, env)
        const first = text.indexOf(a.old_string)
        if (first === -1) return yield* new Tool.ToolFailed({ message: `old_string was not found in ${a.path}` })
        if (text.indexOf(a.old_string, first + 1) !== -1) {
          return yield* new Tool.ToolFailed({ message: `old_string occurs more than once in ${a.path}; include more context to make it unique` })
        }
        const next = text.slice(0, first) + a.new_string + text.slice(first + a.old_string.length)
        yield* writeFile(a.path, next, env)
        return { text: `edited ${a.path}` }
      })
  })

  const ls = Tool.make({
    name: "ls",
    description: "List a directory of the workspace (default the root): directories end with `/`, files show their size.",
    args: Schema.Struct({ path: Schema.optional(Schema.String.pipe(Schema.maxLength(4096)).annotations({ description: "directory relative to the workspace root" })) }),
    // the root itself is no path a pattern names; its entries are filtered one by one instead
    access: (a) => ({ paths: a.path === undefined || a.path === "" || a.path === "." ? [] : [a.path] }),
    run: (a, env) =>
      Effect.gen(function*() {
        const dir = a.path === undefined || a.path === "." ? "" : a.path
        const entries = yield* workspace.tree(dir, env.context).pipe(Effect.mapError(failed))
        const prefix = dir === "" ? "" : `${dir.replace(/\/+$/, "")}/`
        const lines = entries
          .filter((e) => env.canAccess(`${prefix}${e.name}`))
          .map((e) => (e.is_dir ? `${e.name}/` : `${e.name}\t${e.size}`))
        return { text: capText(lines.length === 0 ? "(empty)" : lines.join("\n"), yield* cap) }
      })
  })

  const grep = Tool.make({
    name: "grep",
    description: "Search workspace files for a JavaScript regular expression (or a literal string), optionally only files matching a glob; returns path:line:text.",
    args: Schema.Struct({
      pattern: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(1000)),
      literal: Schema.optional(Schema.Boolean.annotations({ description: "match the pattern as plain text" })),
      ignore_case: Schema.optional(Schema.Boolean),
      path: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(1000)).annotations({ description: "glob of files to search, e.g. src/**/*.ts" })),
      max_results: Cap(1000, "matching lines to return, default 100")
    }),
    access: () => ({ paths: [] }),
    run: (a, env) =>
      Effect.gen(function*() {
        const source = a.literal === true ? a.pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") : a.pattern
        const regex = yield* Either.try({
          try: () => new RegExp(source, a.ignore_case === true ? "i" : ""),
          catch: (e) => new Tool.ToolFailed({ message: `invalid regular expression: ${e instanceof Error ? e.message : String(e)}` })
        })
        const glob = a.path === undefined ? undefined : picomatch(a.path.replace(/^\.\//, ""), { dot: true })
        const max = a.max_results ?? 100
        const hits: Array<string> = []
        yield* walking("grep", () => walk(workspace.root, env.canAccess, (path, isDir) => {
          if (isDir || (glob !== undefined && !glob(path))) return true
          const absolute = join(workspace.root, path)
          const stat = fs.statSync(absolute, { throwIfNoEntry: false })
          if (stat === undefined || stat.size > GREP_MAX_FILE_BYTES) return true
          const bytes = fs.readFileSync(absolute)
          if (bytes.includes(0)) return true
          const lines = bytes.toString("utf8").split("\n")
          for (let i = 0; i < lines.length; i++) {
            const line = lines[i]!.length > GREP_MAX_LINE ? lines[i]!.slice(0, GREP_MAX_LINE) : lines[i]!
            if (regex.test(line)) {
              hits.push(`${path}:${i + 1}:${line}`)
              if (hits.length >= max) return false
            }
          }
          return true
        }))
        const more = hits.length >= max ? `\n[stopped at ${max} matches]` : ""
        return { text: capText(hits.length === 0 ? "no matches" : hits.join("\n") + more, yield* cap) }
      })
  })

  const find = Tool.make({
    name: "find",
    description: "Find workspace files and directories whose path matches a glob (picomatch syntax, e.g. **/*.md).",
    args: Schema.Struct({
      pattern: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(1000)),
      max_results: Cap(10_000, "paths to return, default 200")
    }),
    access: () => ({ paths: [] }),
    run: (a, env) =>
      Effect.gen(function*() {
        const glob = picomatch(a.pattern.replace(/^\.\//, ""), { dot: true })
        const max = a.max_results ?? 200
        const found: Array<string> = []
        yield* walking("find", () => walk(workspace.root, env.canAccess, (path, isDir) => {
          if (glob(path)) found.push(isDir ? `${path}/` : path)
          return found.length < max
        }))
        const more = found.length >= max ? `\n[stopped at ${max} paths]` : ""
        return { text: capText(found.length === 0 ? "no matches" : found.join("\n") + more, yield* cap) }
      })
  })

  const exec = Tool.make({
    name: "exec",
    description: "Run a program from the allowlist with arguments (argv, no shell: no pipes, globs or variables) in the workspace.",
    args: Schema.Struct({
      argv: Schema.Array(Schema.String.pipe(Schema.maxLength(65_536))).pipe(Schema.minItems(1), Schema.maxItems(1000)).annotations({
        description: "the program and its arguments, e.g. [\"git\", \"status\"]"
      })
    }),
    // what argv touches cannot be known in advance; running a process is the permission asked
    access: () => ({ paths: [] }),
    consequential: () => true,
    resource: (a) => a.argv.join(" ").slice(0, 256),
    timeoutSecs: Effect.map(config.current, (c) => c.tools.exec_timeout_secs),
    run: (a, env) =>
      Effect.gen(function*() {
        const current = yield* config.current
        const binary = a.argv[0]!
        if (!current.tools.exec_allowlist.includes(binary)) {
          return yield* new Tool.ToolFailed({
            message: `${JSON.stringify(binary)} is not on the exec allowlist (${current.tools.exec_allowlist.join(", ")})`
          })
        }
        // a process may read the repository (git log): the writes before it are committed first
        yield* workspace.settled
        const result = yield* runProcess({
          argv: a.argv,
          cwd: workspace.root,
          env: { PATH: safePath(process.env.PATH), HOME: tmpdir(), LANG: "C.UTF-8", GIT_TERMINAL_PROMPT: "0" },
          timeoutMs: env.timeoutSecs * 1000,
          outputCapBytes: current.tools.output_cap_bytes
        })
        if (result.timedOut) return yield* new Tool.ToolFailed({ message: `${binary} was killed after the ${env.timeoutSecs} s time limit`, timedOut: true })
        const status = result.exitCode === null ? `killed by ${result.signal}` : `exit code ${result.exitCode}`
        const truncated = result.truncated ? `\n[output truncated at ${current.tools.output_cap_bytes} bytes]` : ""
        return { text: `${result.output}${truncated}\n[${status}]`, exitCode: result.exitCode ?? -1 }
      })
  })

  const memoryStore = Tool.make({
    name: "memory_store",
    description: "Remember something for later: a fact, an episode or knowledge, with tags and an importance from 0 to 1.",
    args: Schema.Struct({
      content: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(32 * 1024)),
      memory_type: Schema.optional(Schema.Literal("fact", "episode", "knowledge")),
      tags: Schema.optional(Schema.Array(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128))).pipe(Schema.maxItems(64))),
      importance: Schema.optional(Schema.Number.pipe(Schema.between(0, 1)))
    }),
    access: () => ({ paths: [] }),
    run: (a, env) =>
      memory.store(a, env.context).pipe(
        Effect.mapError(failed),
        Effect.map(({ id }) => ({ text: `stored memory ${id}` }))
      )
  })

  const memorySearch = Tool.make({
    name: "memory_search",
    description: "Search remembered memories by keywords; returns the best matches.",
    args: Schema.Struct({
      query: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(4096)),
      memory_type: Schema.optional(Schema.Literal("conversation", "session", "fact", "episode", "knowledge")),
      limit: Cap(100, "results, default 10")
    }),
    access: () => ({ paths: [] }),
    run: (a, env) =>
      Effect.gen(function*() {
        const found = yield* memory.search({ query: a.query, limit: a.limit ?? 10, ...(a.memory_type === undefined ? {} : { memory_type: a.memory_type }) }, env.context).pipe(
          Effect.mapError(failed)
        )
        const text = found.entries.length === 0
          ? "no memories found"
          : found.entries.map((e) => `[${e.id}] (${e.type}, importance ${e.importance}${e.tags.length > 0 ? `, tags ${e.tags.join(", ")}` : ""}) ${e.content}`).join("\n")
        return { text: capText(text, yield* cap) }
      })
  })

  return yield* Effect.all([read, write, edit, ls, grep, find, exec, memoryStore, memorySearch])
})
