/**
 * A local stand-in for an OpenAI-compatible chat endpoint: a real HTTP server speaking the
 * `/v1/chat/completions` streaming protocol (SSE `data:` chunks, `[DONE]`), answering from a
 * script, and recording every request it received. Shared by the tests (through
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
}

export interface FakeOpenAi {
  readonly url: string
  /** Bodies of the requests received, parsed. */
  readonly requests: Array<any>
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
export const startFakeOpenAi = async (script: Array<ScriptedReply | ((body: any) => ScriptedReply)> = []): Promise<FakeOpenAi> => {
  const requests: Array<any> = []
  let aborted = 0
  const server: Server = createServer(async (req, res) => {
    if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) {
      res.writeHead(404, { "content-type": "application/json" })
      res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }))
      return
    }
    const body = JSON.parse(await readBody(req))
    requests.push(body)
    const next = script.shift()
    if (next === undefined) {
      res.writeHead(500, { "content-type": "application/json" })
      res.end(JSON.stringify({ error: { message: "the fake model has no more scripted replies" } }))
      return
    }
    const reply = typeof next === "function" ? next(body) : next
    if (reply.status !== undefined && reply.status !== 200) {
      res.writeHead(reply.status, { "content-type": "application/json" })
      res.end(JSON.stringify({ error: { message: `scripted error ${reply.status}` } }))
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
    script,
    aborted: () => aborted,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections()
        server.close(() => r())
      })
  }
}
