/**
 * A local stand-in for an OpenAI-compatible chat endpoint: a real HTTP server speaking the
 * `/v1/chat/completions` streaming protocol (SSE `data:` chunks, `[DONE]`), answering from a
 * script, and recording every request it received. Like real endpoints it can refuse response
 * formats it does not support (400 naming `response_format`, as vLLM or older servers do) and
 * answer in prose whatever it is asked (`otherwise`). Shared by the tests (through
 * `test/fixtures/fakeOpenAi.ts`) and by `bench/chat.ts` (as `@annal/kernel/testing/fakeOpenAi`).
 */
import { createServer, type IncomingMessage, type Server } from "node:http"
import type { AddressInfo } from "node:net"

/** One scripted answer: text (streamed word by word) and/or tool calls, or an HTTP error. */
export interface ScriptedReply {
  readonly text?: string
  readonly toolCalls?: ReadonlyArray<{ readonly name: string; readonly arguments: unknown; readonly id?: string }>
  readonly usage?: { readonly prompt_tokens: number; readonly completion_tokens: number }
  /** Milliseconds to wait between streamed chunks. */
  readonly delayMs?: number
  readonly status?: number
  /** The error message of a `status` reply. */
  readonly error?: string
}

/** A response format type a request may ask for (`response_format.type`). */
export type FormatType = "json_schema" | "json_object"

export interface FakeOptions {
  /** The response formats the endpoint accepts (default both); another is refused with a 400 naming it, the script untouched. */
  readonly accepts?: ReadonlyArray<FormatType>
  /** The reply once the script is empty (default: a 500 saying so). */
  readonly otherwise?: (body: any) => ScriptedReply
}

export interface FakeOpenAi {
  readonly url: string
  /** Bodies of the requests received, parsed (refused ones too). */
  readonly requests: Array<any>
  /** Bodies of the requests refused for their response format. */
  readonly refused: Array<any>
  /** Replies still to give, in order (a request past the script gets a 500). */
  readonly script: Array<ScriptedReply | ((body: any) => ScriptedReply)>
  /** Requests aborted by the client before the reply finished. */
  readonly aborted: () => number
  readonly close: () => Promise<void>
}

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let text = ""
    req.on("data", (d) => (text += d))
    req.on("end", () => resolve(text))
  })

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Starts the fake on a random port of 127.0.0.1. */
export const startFakeOpenAi = async (
  script: Array<ScriptedReply | ((body: any) => ScriptedReply)> = [],
  options: FakeOptions = {}
): Promise<FakeOpenAi> => {
  const accepts = options.accepts ?? ["json_schema", "json_object"]
  const requests: Array<any> = []
  const refused: Array<any> = []
  let aborted = 0
  const server: Server = createServer(async (req, res) => {
    if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) {
      res.writeHead(404, { "content-type": "application/json" })
      res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }))
      return
    }
    const body = JSON.parse(await readBody(req))
    requests.push(body)
    const format = body.response_format?.type
    if (format !== undefined && format !== "text" && !accepts.includes(format)) {
      refused.push(body)
      res.writeHead(400, { "content-type": "application/json" })
      res.end(JSON.stringify({ error: { message: `response_format type "${format}" is not supported`, type: "invalid_request_error", param: "response_format" } }))
      return
    }
    const next = script.shift() ?? options.otherwise
    if (next === undefined) {
      res.writeHead(500, { "content-type": "application/json" })
      res.end(JSON.stringify({ error: { message: "the fake model has no more scripted replies" } }))
      return
    }
    const reply = typeof next === "function" ? next(body) : next
    if (reply.status !== undefined && reply.status !== 200) {
      res.writeHead(reply.status, { "content-type": "application/json" })
      res.end(JSON.stringify({ error: { message: reply.error ?? `scripted error ${reply.status}` } }))
      return
    }
    let closed = false
    res.on("close", () => {
      if (!res.writableFinished) {
        closed = true
        aborted++
      }
    })
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
    const chunk = (delta: unknown, finish: string | null = null) =>
      `data: ${JSON.stringify({ id: "chatcmpl-fake", object: "chat.completion.chunk", model: body.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`
    const words = (reply.text ?? "").match(/\S+\s*/g) ?? []
    for (const word of words) {
      if (closed) return
      res.write(chunk({ content: word }))
      if (reply.delayMs) await sleep(reply.delayMs)
    }
    for (const [i, call] of (reply.toolCalls ?? []).entries()) {
      const args = typeof call.arguments === "string" ? call.arguments : JSON.stringify(call.arguments)
      const half = Math.floor(args.length / 2)
      // the arguments arrive in two deltas, as real endpoints split them
      res.write(chunk({ tool_calls: [{ index: i, id: call.id ?? `call_${requests.length}_${i}`, type: "function", function: { name: call.name, arguments: args.slice(0, half) } }] }))
      res.write(chunk({ tool_calls: [{ index: i, function: { arguments: args.slice(half) } }] }))
    }
    if (closed) return
    res.write(chunk({}, (reply.toolCalls ?? []).length > 0 ? "tool_calls" : "stop"))
    const usage = reply.usage ?? { prompt_tokens: JSON.stringify(body.messages).length >> 2, completion_tokens: words.length }
    res.write(`data: ${JSON.stringify({ id: "chatcmpl-fake", object: "chat.completion.chunk", choices: [], usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } })}\n\n`)
    res.end("data: [DONE]\n\n")
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    refused,
    script,
    aborted: () => aborted,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections()
        server.close(() => r())
      })
  }
}
