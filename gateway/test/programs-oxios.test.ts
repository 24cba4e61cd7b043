/**
 * Programs as Oxios writes them, against the real server: a manifest whose tools have arguments
 * and no command (installed, listed, never offered), and one whose `command = "wc -w"` takes its
 * declared arguments appended — run by an agent in a chat with a fake OpenAI-compatible model.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type FakeOpenAi, startFakeOpenAi } from "../../kernel/test/fixtures/fakeOpenAi.js"
import { type FileServer, programEntries, startFileServer, tarGz } from "../../programs/test/fixtures/tarball.js"
import { type RunningServer, startServer, tempDir } from "./harness.js"
import { sseFrames } from "./offline.js"

let fake: FakeOpenAi
let files: FileServer
let server: RunningServer

const post = (path: string, body?: unknown) => server.json(path, { method: "POST", ...(body === undefined ? {} : { body: JSON.stringify(body) }) })

const install = async (name: string, programToml: string) => {
  const path = `/${name}.tar.gz`
  files.files.set(path, tarGz(programEntries(name, { "program.toml": programToml })))
  return post("/api/programs", { path: `${files.url}${path}` })
}

/** Tools with a description and arguments but nothing to run, as Oxios's own parser test writes them. */
const DESCRIBED_ONLY = `[program]
name = "describer"
version = "0.1.0"
description = "Tools described for the model, run elsewhere"
author = "oxios"

[tools.analyze]
description = "Analyze code quality"
arguments = [
  { name = "path", description = "The file to analyze", type = "path" },
  { name = "depth", description = "How deep", type = "integer", default = 2 },
]

[tools.summarize]
description = "Summarize a text"
`

/** `wc -w` with a declared argument it does not name: Oxios runs `wc -w <file>`. */
const WORD_COUNT = `[program]
name = "wordcount"
version = "1.0.0"
description = "Counts the words of workspace files"
author = "oxios"

[tools.count]
description = "Count the words of a file"
command = "wc -w"
arguments = [{ name = "file", description = "The file, relative to the workspace", type = "path" }]
read_only = true
`

beforeAll(async () => {
  ;[fake, files] = await Promise.all([startFakeOpenAi(), startFileServer()])
  server = await startServer({ dataDir: tempDir(), env: { ANNAL_MODEL_PATH: "", ANNAL_LLM_BASE_URL: fake.url, ANNAL_LLM_MODEL: "fake" } })
}, 60_000)
afterAll(async () => {
  await server?.stop()
  await Promise.all([fake?.close(), files?.close()])
})

describe("a program whose tools have neither command nor module", () => {
  it("installs, is listed with each tool's description and arguments, and says per tool why it does not run", async () => {
    expect(await install("describer", DESCRIBED_ONLY)).toMatchObject({ status: 200, body: { status: "installed", name: "describer", version: "0.1.0" } })
    const listed = (await server.json("/api/programs")).body.items.find((p: any) => p.name === "describer")
    expect(listed).toEqual({
      name: "describer",
      version: "0.1.0",
      description: "Tools described for the model, run elsewhere",
      author: "oxios",
      enabled: true,
      tools_count: 2,
      has_skill_content: false,
      stream: "program-describer"
    })
    const detail = (await server.json("/api/programs/describer")).body
    expect(detail.tools).toEqual([
      {
        name: "analyze",
        description: "Analyze code quality",
        kind: "none",
        tool_name: "describer__analyze",
        arguments: [
          { name: "path", description: "The file to analyze", type: "path", required: true },
          { name: "depth", description: "How deep", type: "integer", required: false, default: 2 }
        ],
        runnable: false,
        reason: expect.stringContaining("neither a command nor a module")
      },
      {
        name: "summarize",
        description: "Summarize a text",
        kind: "none",
        tool_name: "describer__summarize",
        arguments: [],
        runnable: false,
        reason: expect.stringContaining("not offered to agents")
      }
    ])
  }, 60_000)
})

describe("a command that takes its arguments appended", () => {
  it("installs, and an agent in a chat runs `wc -w <file>`; the described-only tools are never offered", async () => {
    expect(await install("wordcount", WORD_COUNT)).toMatchObject({ status: 200, body: { name: "wordcount" } })
    const detail = (await server.json("/api/programs/wordcount")).body
    expect(detail).toMatchObject({ offered: true, tools: [{ name: "count", kind: "command", runnable: true, reason: null }] })
    const text = "one two three four five\nsix seven\n"
    expect((await server.fetch("/api/workspace/file/notes/words.txt", { method: "PUT", body: text, headers: { "content-type": "text/plain" } })).status).toBe(200)

    const json = (value: unknown) => ({ text: JSON.stringify(value) })
    let offered: ReadonlyArray<string> = []
    fake.script.push(
      json({ goal_clarity: 1, constraints_clarity: 1, success_clarity: 1, questions: [] }),
      json({ goal: "Count the words of notes/words.txt", constraints: [], acceptance_criteria: ["the count is given"], ontology: null }),
      (body: any) => {
        offered = body.tools.map((t: any) => t.function.name)
        return { toolCalls: [{ name: "wordcount__count", arguments: { file: "notes/words.txt" } }] }
      },
      (body: any) => ({ text: `wc says: ${String(body.messages.filter((m: any) => m.role === "tool").at(-1)?.content)}` }),
      json({ score: 1, passed: true })
    )
    const reply = await post("/api/chat", { content: "How many words does notes/words.txt have?" })
    expect(reply.status).toBe(200)
    expect(fake.script).toHaveLength(0)
    // the real wc ran with the argument appended after its default args: `wc -w notes/words.txt`
    expect(reply.body.reply).toBe("wc says: 7 notes/words.txt\n\n[exit code 0]")
    expect(offered).toContain("wordcount__count")
    expect(offered.filter((t) => t.startsWith("describer__"))).toEqual([])

    // the model saw the appended argument typed as declared
    const agentRequest = fake.requests.find((r: any) => r.tools?.some((t: any) => t.function.name === "wordcount__count"))
    const schema = agentRequest.tools.find((t: any) => t.function.name === "wordcount__count").function.parameters
    expect(schema).toMatchObject({ type: "object", required: ["file"], properties: { file: { type: "string" } } })

    const frames = await sseFrames(server, ["tool_call_completed"], (f) => f.length >= 1)
    expect(frames.map((f) => [f.tool, f.status])).toEqual([["wordcount__count", "completed"]])
  }, 60_000)

  it("refuses a value that would be read as an option, and a call of the wrong type, without running wc", async () => {
    fake.script.push(
      { text: JSON.stringify({ goal_clarity: 1, constraints_clarity: 1, success_clarity: 1, questions: [] }) },
      { text: JSON.stringify({ goal: "Count words", constraints: [], acceptance_criteria: ["a count"], ontology: null }) },
      { toolCalls: [{ name: "wordcount__count", arguments: { file: "--files0-from=notes/words.txt" } }, { name: "wordcount__count", arguments: { file: 7 } }] },
      (body: any) => ({ text: body.messages.filter((m: any) => m.role === "tool").map((m: any) => m.content).join(" | ") }),
      { text: JSON.stringify({ score: 1, passed: true }) }
    )
    const reply = await post("/api/chat", { content: "Count the words in a file" })
    expect(reply.status).toBe(200)
    const [option, typed] = String(reply.body.reply).split(" | ")
    expect(option).toContain('a value starting with "-" would be read as an option')
    expect(typed).toContain("file")
    expect(typed).not.toContain("exit code")
  }, 60_000)
})
