/** The shipped textkit MCP server (TypeScript over stdio), run for real through the SDK's client. */
import { Effect, Either } from "effect"
import { realpathSync } from "node:fs"
import { resolve } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { hostVariables, McpServer, mcpTool, textOf } from "../src/index.js"
import type { ProgramRuntime } from "../src/index.js"

const dir = realpathSync(resolve(import.meta.dirname, "..", "textkit"))
const runtime: ProgramRuntime = {
  program: "textkit",
  dir,
  workspace: dir,
  workspaceGit: resolve(dir, "..", "textkit.git"),
  host: hostVariables(dir, dir),
  defaultTimeoutSecs: Effect.succeed(30),
  outputCapBytes: Effect.succeed(65_536)
}
const server = new McpServer(runtime, { name: "textkit", command: "${NODE}", args: ["--import", "${TSX}", "server.ts"], env: {}, enabled: true })
afterAll(() => server.close())

const planOf = async (name: string, input: unknown) => {
  const info = (await server.listTools()).find((t) => t.name === name)!
  const tool = Either.getOrThrow(mcpTool(server, info, Effect.succeed(30)))
  return { tool, plan: tool.decode(input) }
}
const run = async (name: string, input: unknown) => {
  const { plan } = await planOf(name, input)
  return Effect.runPromise(Effect.either(Either.getOrThrow(plan).run({ agentId: "a", context: { actor: "test" }, timeoutSecs: 10, canAccess: () => true })))
}

describe("an MCP server's tools", () => {
  it("are listed with their real input schemas and named <program>__<tool>", async () => {
    const { tool } = await planOf("word_frequencies", {})
    expect(tool.name).toBe("textkit__word_frequencies")
    expect(tool.parameters).toMatchObject({ type: "object", required: ["text"], properties: { top: { type: "integer", maximum: 100 } } })
  }, 30_000)

  it("validate a call against the schema before it reaches the server", async () => {
    expect((await planOf("slugify", {})).plan).toEqual(Either.left('invalid argument "text": is required'))
    expect((await planOf("slugify", { text: 1 })).plan).toEqual(Either.left('invalid argument "text": must be string'))
    expect((await planOf("slugify", { text: "a", more: 1 })).plan).toEqual(Either.left('unknown argument "more"'))
    expect((await planOf("word_frequencies", { text: "a", top: 0 })).plan).toMatchObject({ left: expect.stringContaining('"top"') })
    // read-only tools (readOnlyHint) are not consequential
    expect(Either.getOrThrow((await planOf("slugify", { text: "a" })).plan).consequential).toBe(false)
  }, 30_000)

  it("answer calls", async () => {
    expect(await run("slugify", { text: "Héllo, Wörld!" })).toEqual(Either.right({ text: "hello-world" }))
    expect(await run("word_frequencies", { text: "a b a c a b", top: 2 })).toEqual(Either.right({ text: "a: 3\nb: 2" }))
  }, 30_000)

  it("turn a crashed server into a tool error, and start it again on the next call", async () => {
    expect(await run("slugify", { text: "before" })).toEqual(Either.right({ text: "before" }))
    const starts = server.starts
    const pid = server.pid!
    process.kill(pid, "SIGKILL")
    // wait for the client to see the process go
    for (let i = 0; i < 100 && server.pid !== undefined; i++) await new Promise((r) => setTimeout(r, 20))
    const after = await run("slugify", { text: "after the crash" })
    expect(after).toEqual(Either.right({ text: "after-the-crash" }))
    expect(server.starts).toBe(starts + 1)
    expect(server.pid).not.toBe(pid)
  }, 30_000)

  it("turn a server that dies during a call into a tool error", async () => {
    await run("slugify", { text: "warm" })
    const plan = Either.getOrThrow((await planOf("word_frequencies", { text: "x y x" })).plan)
    // killed, and the call made before the client has seen the process go: it is in flight when the pipe closes
    process.kill(server.pid!, "SIGKILL")
    const result = await Effect.runPromise(Effect.either(plan.run({ agentId: "a", context: { actor: "test" }, timeoutSecs: 10, canAccess: () => true })))
    expect(Either.isLeft(result) && result.left.message).toContain("stopped during the call")
    expect(Either.isLeft(result) && result.left.message).toContain("started again on the next call")
    expect(await run("slugify", { text: "again" })).toEqual(Either.right({ text: "again" }))
  }, 30_000)

  it("reads text, other items and structured content from a result", () => {
    expect(textOf({ content: [{ type: "text", text: "a" }, { type: "image", mimeType: "image/png" }] })).toBe("a\n[image image/png]")
    expect(textOf({ content: [], structuredContent: { n: 1 } })).toBe('{"n":1}')
  })
})
