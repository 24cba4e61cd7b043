/**
 * An MCP server over stdio, in TypeScript with nothing but Node: newline-delimited JSON-RPC 2.0
 * (`initialize`, `ping`, `tools/list`, `tools/call`), as the Model Context Protocol's stdio
 * transport specifies. Annal runs it as `node --import <tsx> server.ts` in the program's folder.
 */
import { createInterface } from "node:readline"

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [k: string]: Json }

interface Request {
  readonly jsonrpc: "2.0"
  readonly id?: number | string
  readonly method: string
  readonly params?: { readonly [k: string]: Json }
}

interface ToolDef {
  readonly name: string
  readonly description: string
  readonly inputSchema: Json
  readonly run: (args: { readonly [k: string]: Json }) => string
}

const slugify = (text: string) =>
  text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "")

const tools: ReadonlyArray<ToolDef> = [
  {
    name: "slugify",
    description: "Turn a title into a URL slug: lower case ASCII letters and digits joined by -",
    inputSchema: { type: "object", properties: { text: { type: "string", description: "the title" } }, required: ["text"], additionalProperties: false },
    run: (args) => slugify(String(args.text))
  },
  {
    name: "word_frequencies",
    description: "The most frequent words of a text with their counts, most frequent first",
    inputSchema: {
      type: "object",
      properties: {
        text: { type: "string", description: "the text" },
        top: { type: "integer", minimum: 1, maximum: 100, description: "how many words, default 5" }
      },
      required: ["text"],
      additionalProperties: false
    },
    run: (args) => {
      const counts = new Map<string, number>()
      for (const word of String(args.text).toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? []) counts.set(word, (counts.get(word) ?? 0) + 1)
      const top = typeof args.top === "number" ? args.top : 5
      return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, top).map(([w, n]) => `${w}: ${n}`).join("\n")
    }
  }
]

const send = (message: Json) => process.stdout.write(`${JSON.stringify(message)}\n`)
const reply = (id: number | string, result: Json) => send({ jsonrpc: "2.0", id, result })
const fail = (id: number | string | null, code: number, message: string) => send({ jsonrpc: "2.0", id, error: { code, message } })

const SUPPORTED = ["2025-06-18", "2025-03-26", "2024-11-05"]

const handle = (request: Request) => {
  const id = request.id
  if (id === undefined) return // a notification (initialized, cancelled): nothing to answer
  switch (request.method) {
    case "initialize": {
      const asked = String(request.params?.protocolVersion ?? "")
      return reply(id, {
        protocolVersion: SUPPORTED.includes(asked) ? asked : SUPPORTED[0]!,
        capabilities: { tools: {} },
        serverInfo: { name: "textkit", version: "1.0.0" }
      })
    }
    case "ping":
      return reply(id, {})
    case "tools/list":
      return reply(id, { tools: tools.map(({ name, description, inputSchema }) => ({ name, description, inputSchema, annotations: { readOnlyHint: true } })) })
    case "tools/call": {
      const tool = tools.find((t) => t.name === request.params?.name)
      if (tool === undefined) return fail(id, -32602, `unknown tool ${JSON.stringify(request.params?.name)}`)
      const args = (request.params?.arguments ?? {}) as { readonly [k: string]: Json }
      try {
        return reply(id, { content: [{ type: "text", text: tool.run(args) }] })
      } catch (e) {
        return reply(id, { content: [{ type: "text", text: e instanceof Error ? e.message : String(e) }], isError: true })
      }
    }
    default:
      return fail(id, -32601, `method not found: ${request.method}`)
  }
}

createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim() === "") return
  let request: Request
  try {
    request = JSON.parse(line) as Request
  } catch {
    return fail(null, -32700, "parse error")
  }
  handle(request)
})
