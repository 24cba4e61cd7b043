import { describe, expect, it } from "@effect/vitest"
import { Configuration, Kernel, Tool, ToolProcess, ToolRegistry, Workspace, WorkspaceEvents } from "@annal/kernel"
import { EventStore } from "@annal/store"
import { Effect, Either, Layer, Option, Schema } from "effect"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const kernel = (dataDir: string) =>
  Kernel.layer({ store: { filename: join(dataDir, "annal.db"), synchronous: "NORMAL" }, dataDir, resourceSampleIntervalSecs: 60 })
const tempDir = () => mkdtempSync(join(tmpdir(), "annal-tools-"))
const user = { actor: "user:api" }

const env = (overrides: Partial<Tool.ToolEnv> = {}): Tool.ToolEnv => ({
  agentId: "tester",
  context: { actor: "agent:tester" },
  timeoutSecs: 10,
  canAccess: () => true,
  ...overrides
})

/** Runs a registered tool directly (no gate): its output, or the tool error's message. */
const run = (name: string, args: unknown, overrides: Partial<Tool.ToolEnv> = {}) =>
  Effect.gen(function*() {
    const registry = yield* ToolRegistry
    const tool = Option.getOrThrow(yield* registry.get(name))
    const plan = tool.decode(args)
    if (Either.isLeft(plan)) return { ok: false as const, error: plan.left }
    const result = yield* Effect.either(plan.right.run(env(overrides)))
    return Either.isLeft(result) ? { ok: false as const, error: result.left.message } : { ok: true as const, ...result.right }
  })

/** Whether a process runs: a zombie (killed, waiting to be reaped by an init that may never) does not. */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, "utf8") : ""
  return !/^\d+ \(.*\) Z/.test(stat)
}

type KernelServices = Layer.Layer.Success<ReturnType<typeof kernel>>

/** Runs the body over a fresh kernel in a temporary data directory. */
const withKernel = <A, E>(body: (dir: string) => Effect.Effect<A, E, KernelServices>) => {
  const dir = tempDir()
  return body(dir).pipe(Effect.provide(kernel(dir)))
}

describe("tool definitions and the registry", () => {
  it.live("lists the built-ins' specs with JSON-schema parameters generated from their Schemas", () =>
    withKernel(() =>
      Effect.gen(function*() {
        const specs = yield* (yield* ToolRegistry).specs
        expect(specs.map((s) => s.name)).toEqual(["edit", "exec", "find", "grep", "ls", "memory_search", "memory_store", "read", "write"])
        for (const spec of specs) {
          expect(spec.name).toMatch(Tool.TOOL_NAME)
          expect(spec.description.length).toBeGreaterThan(10)
          expect(spec.parameters.type).toBe("object")
          expect(spec.parameters).not.toHaveProperty("$schema")
        }
        const read = specs.find((s) => s.name === "read")!.parameters as { properties: Record<string, { type: string }>; required: Array<string> }
        expect(read.required).toEqual(["path"])
        expect(read.properties.offset).toMatchObject({ type: "integer", minimum: 1 })
        expect(JSON.stringify(specs)).not.toContain("$ref")
        const exec = specs.find((s) => s.name === "exec")!.parameters as { properties: { argv: { type: string; minItems: number } } }
        expect(exec.properties.argv).toMatchObject({ type: "array", minItems: 1 })
      })), 30_000)

  it.live("refuses a tool name a model could not call, and a name already taken", () =>
    withKernel(() =>
      Effect.gen(function*() {
        const definition = { description: "d", args: Schema.Struct({}), access: () => ({ paths: [] }), run: () => Effect.succeed({ text: "" }) }
        expect(Either.isLeft(Tool.make({ ...definition, name: "has space" }))).toBe(true)
        expect(Either.isLeft(Tool.make({ ...definition, name: "x".repeat(65) }))).toBe(true)
        const registry = yield* ToolRegistry
        const taken = yield* Effect.flip(registry.register(Either.getOrThrow(Tool.make({ ...definition, name: "read" }))))
        expect(taken._tag).toBe("AlreadyExists")
        yield* registry.register(Either.getOrThrow(Tool.make({ ...definition, name: "my-tool_2" })))
        expect((yield* registry.specs).map((s) => s.name)).toContain("my-tool_2")
      })), 30_000)

  it.live("a decode error names the field", () =>
    withKernel(() =>
      Effect.gen(function*() {
        expect(yield* run("read", { path: 3 })).toEqual({ ok: false, error: expect.stringContaining('"path"') })
        expect(yield* run("write", { path: "a.txt" })).toEqual({ ok: false, error: expect.stringContaining('"content"') })
        expect(yield* run("read", { path: "a", extra: 1 })).toEqual({ ok: false, error: expect.stringContaining('"extra"') })
      })), 30_000)
})

describe("file tools", () => {
  it.live("write, read, edit, ls, grep and find work inside the workspace, each write an event and a commit", () =>
    withKernel(() =>
      Effect.gen(function*() {
        const workspace = yield* Workspace
        const store = yield* EventStore
        expect(yield* run("write", { path: "src/a.ts", content: "const a = 1\nconst b = 2\nconst c = 3\n" })).toMatchObject({ ok: true })
        expect(yield* run("write", { path: "notes.md", content: "# Notes\nTODO: more\n" })).toMatchObject({ ok: true })
        const written = yield* store.readStream(WorkspaceEvents.fileStream("src/a.ts"))
        expect(written.map((e) => e.type)).toEqual(["workspace_file_written"])
        expect(written[0]!.actor).toBe("agent:tester")
        expect(readFileSync(join(workspace.root, "src/a.ts"), "utf8")).toContain("const b = 2")

        expect(yield* run("read", { path: "src/a.ts", offset: 2, limit: 1 })).toEqual({ ok: true, text: "const b = 2" })
        expect(yield* run("read", { path: "notes.md" })).toEqual({ ok: true, text: "# Notes\nTODO: more\n" })
        expect(yield* run("read", { path: "missing.txt" })).toEqual({ ok: false, error: "file not found: missing.txt" })

        expect(yield* run("edit", { path: "src/a.ts", old_string: "const b = 2", new_string: "const b = 20" })).toMatchObject({ ok: true })
        expect(readFileSync(join(workspace.root, "src/a.ts"), "utf8")).toBe("const a = 1\nconst b = 20\nconst c = 3\n")
        expect(yield* run("edit", { path: "src/a.ts", old_string: "const", new_string: "let" })).toEqual({
          ok: false,
          error: "old_string occurs more than once in src/a.ts; include more context to make it unique"
        })
        expect(yield* run("edit", { path: "src/a.ts", old_string: "nope", new_string: "x" })).toEqual({ ok: false, error: "old_string was not found in src/a.ts" })
        expect((yield* store.readStream(WorkspaceEvents.fileStream("src/a.ts"))).length).toBe(2)

        expect(yield* run("ls", {})).toEqual({ ok: true, text: "src/\nnotes.md\t19" })
        expect(yield* run("ls", { path: "src" })).toEqual({ ok: true, text: "a.ts\t37" })

        expect(yield* run("grep", { pattern: "const [bc]" })).toEqual({ ok: true, text: "src/a.ts:2:const b = 20\nsrc/a.ts:3:const c = 3" })
        expect(yield* run("grep", { pattern: "(", literal: true })).toEqual({ ok: true, text: "no matches" })
        expect(yield* run("grep", { pattern: "todo", ignore_case: true, path: "**/*.md" })).toEqual({ ok: true, text: "notes.md:2:TODO: more" })
        expect(yield* run("grep", { pattern: "const", max_results: 1 })).toEqual({ ok: true, text: "src/a.ts:1:const a = 1\n[stopped at 1 matches]" })
        expect(yield* run("grep", { pattern: "(" })).toMatchObject({ ok: false, error: expect.stringContaining("invalid regular expression") })

        expect(yield* run("find", { pattern: "**/*.ts" })).toEqual({ ok: true, text: "src/a.ts" })
        expect(yield* run("find", { pattern: "*" })).toEqual({ ok: true, text: "notes.md\nsrc/" })
        // what the agent may not access is skipped, not shown
        expect(yield* run("find", { pattern: "**" }, { canAccess: (p) => !p.endsWith(".md") })).toEqual({ ok: true, text: "src/\nsrc/a.ts" })
        expect(yield* run("grep", { pattern: "TODO" }, { canAccess: (p) => !p.endsWith(".md") })).toEqual({ ok: true, text: "no matches" })
      })), 30_000)

  it.live("refuses paths that leave the workspace: '..', absolute, and symbolic links out", () =>
    withKernel((dir) =>
      Effect.gen(function*() {
        const workspace = yield* Workspace
        const outside = join(dir, "outside")
        mkdirSync(outside)
        writeFileSync(join(outside, "secret.txt"), "TOPSECRET\n")
        symlinkSync(outside, join(workspace.root, "link"))
        symlinkSync(join(outside, "secret.txt"), join(workspace.root, "secret-link.txt"))

        for (const path of ["../outside/secret.txt", "/etc/passwd", "%2e%2e/x", "link/secret.txt", "secret-link.txt", ".git/config"]) {
          const read = yield* run("read", { path })
          expect(read.ok, path).toBe(false)
          expect((read as { error: string }).error, path).toMatch(/refused/)
        }
        for (const path of ["../escape.txt", "/tmp/escape.txt", "link/new.txt", "secret-link.txt"]) {
          const write = yield* run("write", { path, content: "pwned" })
          expect(write.ok, path).toBe(false)
        }
        expect(readFileSync(join(outside, "secret.txt"), "utf8")).toBe("TOPSECRET\n")
        expect(existsSync(join(outside, "new.txt"))).toBe(false)
        expect((yield* run("edit", { path: "link/secret.txt", old_string: "TOP", new_string: "NOT" })).ok).toBe(false)
        expect((yield* run("ls", { path: "link" })).ok).toBe(false)
        expect((yield* run("ls", { path: ".." })).ok).toBe(false)
        // walks do not follow links out
        expect(yield* run("grep", { pattern: "TOPSECRET" })).toEqual({ ok: true, text: "no matches" })
        expect(yield* run("find", { pattern: "**/secret.txt" })).toEqual({ ok: true, text: "no matches" })
      })), 30_000)
})

describe("exec", () => {
  it.live("runs argv without a shell, in the workspace, and reports the exit code", () =>
    withKernel(() =>
      Effect.gen(function*() {
        const workspace = yield* Workspace
        expect(yield* run("exec", { argv: ["echo", "$(id)", "`id`", "a;b", "*"] })).toEqual({ ok: true, text: "$(id) `id` a;b *\n\n[exit code 0]", exitCode: 0 })
        const pwd = yield* run("exec", { argv: ["node", "-e", "console.log(process.cwd()); console.log(Object.keys(process.env).sort().join(','))"] })
        expect(pwd).toMatchObject({ ok: true, exitCode: 0 })
        const [cwd, keys] = (pwd as { text: string }).text.split("\n")
        expect(cwd).toBe(workspace.root)
        // the server's own environment (tokens, keys) does not reach the child
        expect(keys).toBe("GIT_TERMINAL_PROMPT,HOME,LANG,PATH")
        expect(yield* run("exec", { argv: ["node", "-e", "process.stderr.write('bad'); process.exit(3)"] })).toEqual({ ok: true, text: "bad\n[exit code 3]", exitCode: 3 })
      })), 30_000)

  it.live("refuses a binary not on the allowlist, or named by a path", () =>
    withKernel(() =>
      Effect.gen(function*() {
        for (const argv of [["bash", "-c", "id"], ["sh", "-c", "id"], ["/bin/echo", "x"], ["./echo"], ["rm", "-rf", "x"]]) {
          const result = yield* run("exec", { argv })
          expect(result, argv.join(" ")).toEqual({ ok: false, error: expect.stringContaining("is not on the exec allowlist") })
        }
        expect(yield* run("exec", { argv: [] })).toEqual({ ok: false, error: expect.stringContaining('"argv"') })
        yield* (yield* Configuration).update({ tools: { exec_allowlist: ["echo", "sh"] } }, user)
        expect(yield* run("exec", { argv: ["sh", "-c", "echo via-sh"] })).toMatchObject({ ok: true, text: "via-sh\n\n[exit code 0]" })
        expect((yield* run("exec", { argv: ["node", "-e", "1"] })).ok).toBe(false)
      })), 30_000)

  it.live("kills the process and its process group on timeout", () =>
    Effect.gen(function*() {
      const started = Date.now()
      const result = yield* ToolProcess.runProcess({
        argv: [
          "node",
          "-e",
          "const c = require('child_process').spawn('sleep', ['60'], { stdio: 'ignore' }); console.log(process.pid + ' ' + c.pid); setInterval(() => {}, 1000)"
        ],
        cwd: tmpdir(),
        env: { PATH: ToolProcess.safePath(process.env.PATH) },
        timeoutMs: 1500,
        outputCapBytes: 1000
      })
      expect(result.timedOut).toBe(true)
      expect(result.exitCode).toBeNull()
      expect(result.signal).toBe("SIGKILL")
      expect(Date.now() - started).toBeLessThan(5000)
      const [parent, child] = result.output.trim().split(" ").map(Number)
      expect(parent).toBe(result.pid)
      yield* Effect.sleep("200 millis")
      expect(alive(parent!)).toBe(false)
      // the grandchild was in the group: it is gone too, not orphaned
      expect(alive(child!)).toBe(false)
    }), 30_000)

  it.live("the exec tool's time limit fails the call and leaves no process behind", () =>
    withKernel(() =>
      Effect.gen(function*() {
        const workspace = yield* Workspace
        const started = Date.now()
        const result = yield* run("exec", {
          argv: ["node", "-e", "require('fs').writeFileSync('pid.txt', String(process.pid)); setInterval(() => {}, 1000)"]
        }, { timeoutSecs: 1 })
        expect(result).toEqual({ ok: false, error: "node was killed after the 1 s time limit" })
        expect(Date.now() - started).toBeLessThan(4000)
        const pid = Number(readFileSync(join(workspace.root, "pid.txt"), "utf8"))
        expect(pid).toBeGreaterThan(0)
        expect(alive(pid)).toBe(false)
      })), 30_000)

  it.live("caps the output", () =>
    withKernel(() =>
      Effect.gen(function*() {
        yield* (yield* Configuration).update({ tools: { output_cap_bytes: 1000 } }, user)
        const result = yield* run("exec", { argv: ["node", "-e", "process.stdout.write('x'.repeat(200000)); console.error('tail')"] })
        expect(result).toMatchObject({ ok: true, exitCode: 0 })
        const text = (result as { text: string }).text
        expect(text).toBe(`${"x".repeat(1000)}\n[output truncated at 1000 bytes]\n[exit code 0]`)
        // the other tools are capped by the same setting
        yield* run("write", { path: "big.txt", content: "y".repeat(5000) })
        const read = (yield* run("read", { path: "big.txt" })) as { text: string }
        expect(read.text).toBe(`${"y".repeat(1000)}\n[output truncated at 1000 bytes of 5000]`)
      })), 30_000)
})

describe("memory tools", () => {
  it.live("memory_store stores, memory_search finds it", () =>
    withKernel(() =>
      Effect.gen(function*() {
        const stored = yield* run("memory_store", { content: "The deploy script lives in scripts/deploy.sh", tags: ["ops"], importance: 0.9 })
        expect(stored).toMatchObject({ ok: true, text: expect.stringMatching(/^stored memory [0-9a-f-]{36}$/) })
        const id = (stored as { text: string }).text.slice("stored memory ".length)
        const found = yield* run("memory_search", { query: "deploy script" })
        expect(found).toEqual({ ok: true, text: `[${id}] (fact, importance 0.9, tags ops) The deploy script lives in scripts/deploy.sh` })
        expect(yield* run("memory_search", { query: "kubernetes" })).toEqual({ ok: true, text: "no memories found" })
        expect(yield* run("memory_store", { content: "x", importance: 2 })).toEqual({ ok: false, error: expect.stringContaining('"importance"') })
      })), 30_000)
})
