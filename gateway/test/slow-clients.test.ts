import { connect as netConnect, type Socket } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningServer, startServer } from "./harness.js"
import { connect as wsConnect } from "./wsClient.js"
import { DEFAULT_HEADERS_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS, httpTimeouts } from "../src/http/SlowClients.js"

// Short limits so the test takes a second, not a minute; production's are 10 s and 60 s.
const HEADERS_MS = 300
const REQUEST_MS = 900

let server: RunningServer

beforeAll(async () => {
  server = await startServer({ env: { ANNAL_HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_MS), ANNAL_HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_MS) } })
})
afterAll(async () => {
  await server?.stop()
})

/** A raw TCP connection to the server: what it received, and when the server closed it. */
const open = () => {
  const url = new URL(server.url)
  const socket = netConnect(Number(url.port), url.hostname)
  let received = ""
  socket.on("data", (d) => (received += d))
  const started = Date.now()
  const closed = new Promise<{ received: string; afterMs: number }>((resolve) =>
    socket.on("close", () => resolve({ received, afterMs: Date.now() - started })))
  socket.on("error", () => {})
  return { socket, closed, received: () => received }
}

/** The JSON body of a raw HTTP answer. */
const bodyOf = (raw: string) => JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4))

/** Writes `text` a few bytes at a time, every `everyMs`, for as long as the socket is open. */
const trickle = (socket: Socket, text: string, everyMs: number) => {
  let at = 0
  const timer = setInterval(() => {
    if (socket.destroyed || at >= text.length) return clearInterval(timer)
    socket.write(text.slice(at, at + 2))
    at += 2
  }, everyMs)
  return () => clearInterval(timer)
}

describe("a client too slow to send its request", () => {
  it("headers trickling in (never finished) get 408 and a closed connection after the headers timeout", async () => {
    const { socket, closed } = open()
    const stop = trickle(socket, `GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: ${"p".repeat(400)}\r\n`, 20)
    const { received, afterMs } = await closed
    stop()
    expect(received).toMatch(/^HTTP\/1\.1 408 /)
    expect(received).toContain("Content-Type: application/json")
    expect(bodyOf(received)).toEqual({ error: expect.stringContaining("did not arrive in time") })
    expect(afterMs).toBeGreaterThanOrEqual(HEADERS_MS - 50)
    expect(afterMs).toBeLessThan(HEADERS_MS + 1_500)
  })

  it("a body that stalls gets 408 after the request timeout; nothing of it is stored", async () => {
    const before = (await server.json("/api/memory")).body.total
    const { socket, closed } = open()
    const body = JSON.stringify({ content: "never finished" })
    socket.write(
      `POST /api/memory HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`
    )
    const { received, afterMs } = await closed
    expect(received).toMatch(/^HTTP\/1\.1 408 /)
    expect(bodyOf(received)).toEqual({ error: expect.stringContaining("did not arrive in time") })
    expect(afterMs).toBeGreaterThanOrEqual(REQUEST_MS - 50)
    expect(afterMs).toBeLessThan(REQUEST_MS + 1_500)
    expect((await server.json("/api/memory")).body.total).toBe(before)
    expect(server.output()).not.toContain("internal error")
  })

  it("a body trickling in past the request timeout is cut off with 408 too", async () => {
    const { socket, closed } = open()
    const body = JSON.stringify({ content: "x".repeat(200) })
    socket.write(
      `POST /api/memory HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}\r\n\r\n`
    )
    const stop = trickle(socket, body, 20)
    const { received, afterMs } = await closed
    stop()
    expect(received).toMatch(/^HTTP\/1\.1 408 /)
    expect(afterMs).toBeLessThan(REQUEST_MS + 1_500)
  })

  it("leaves prompt requests, idle keep-alive connections and open WebSockets alone", async () => {
    const ws = await wsConnect(server)
    const { socket, closed, received } = open()
    socket.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    // idle, after a complete request, for longer than both timeouts
    await new Promise((r) => setTimeout(r, REQUEST_MS + 400))
    expect(received()).toMatch(/^HTTP\/1\.1 200 /)
    expect(socket.destroyed).toBe(false)
    socket.write("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    const { received: both } = await closed
    expect(both.match(/HTTP\/1\.1 200 /g)).toHaveLength(2)
    // the WebSocket, upgraded long before, still answers a ping
    const pong = new Promise<void>((r) => ws.ws.once("pong", () => r()))
    ws.ws.ping()
    await pong
    ws.ws.close()
  })
})

describe("a request node cannot parse", () => {
  it("is 400 with an {error} body and a closed connection", async () => {
    const { socket, closed } = open()
    socket.write("NOT HTTP AT ALL\r\n\r\n")
    const { received } = await closed
    expect(received).toMatch(/^HTTP\/1\.1 400 /)
    expect(bodyOf(received)).toEqual({ error: "the request is not valid HTTP" })
  })
})

describe("the timeouts' settings", () => {
  it("default to 10 s for headers and 60 s for the request; unusable values keep the defaults", () => {
    expect(httpTimeouts({})).toMatchObject({ headersMs: DEFAULT_HEADERS_TIMEOUT_MS, requestMs: DEFAULT_REQUEST_TIMEOUT_MS })
    expect(DEFAULT_HEADERS_TIMEOUT_MS).toBe(10_000)
    expect(DEFAULT_REQUEST_TIMEOUT_MS).toBe(60_000)
    expect(httpTimeouts({ ANNAL_HTTP_HEADERS_TIMEOUT_MS: "soon", ANNAL_HTTP_REQUEST_TIMEOUT_MS: "-1" })).toMatchObject({ headersMs: 10_000, requestMs: 60_000 })
    // the headers' limit is never above the whole request's (node refuses that)
    expect(httpTimeouts({ ANNAL_HTTP_HEADERS_TIMEOUT_MS: "5000", ANNAL_HTTP_REQUEST_TIMEOUT_MS: "2000" })).toMatchObject({ headersMs: 2000, requestMs: 2000 })
  })
})
