/**
 * How long a client may take to send its request: the headers within `headersMs` (10 s), the
 * whole request, body included, within `requestMs` (60 s). Past either, node answers
 * `408 Request Timeout` and closes the connection, so a stalled or trickling client does not hold
 * a socket for minutes. Node checks its connections every `checkIntervalMs` (its own default,
 * 30 s, would let a 10 s limit run to 40 s). The environment may shorten them (tests do).
 */
import type { Server } from "node:http"
import type { Duplex } from "node:stream"

export interface HttpTimeouts {
  readonly headersMs: number
  readonly requestMs: number
  readonly checkIntervalMs: number
}

export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000

const positive = (raw: string | undefined, fallback: number): number => {
  const n = raw === undefined || raw.trim() === "" ? Number.NaN : Number(raw)
  return Number.isSafeInteger(n) && n > 0 ? n : fallback
}

/** The timeouts from `ANNAL_HTTP_HEADERS_TIMEOUT_MS` and `ANNAL_HTTP_REQUEST_TIMEOUT_MS` (an unusable value keeps the default). */
export const httpTimeouts = (env: Readonly<Record<string, string | undefined>>): HttpTimeouts => {
  const requestMs = positive(env.ANNAL_HTTP_REQUEST_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS)
  // node requires headersTimeout <= requestTimeout
  const headersMs = Math.min(positive(env.ANNAL_HTTP_HEADERS_TIMEOUT_MS, DEFAULT_HEADERS_TIMEOUT_MS), requestMs)
  return { headersMs, requestMs, checkIntervalMs: Math.max(10, Math.min(1_000, Math.floor(headersMs / 4))) }
}

/** The options of node's `http.createServer` that enforce them. */
export const serverOptions = (t: HttpTimeouts) => ({
  headersTimeout: t.headersMs,
  requestTimeout: t.requestMs,
  connectionsCheckingInterval: t.checkIntervalMs
})

const STATUS_TEXT: Readonly<Record<number, string>> = { 400: "Bad Request", 408: "Request Timeout", 413: "Payload Too Large", 431: "Request Header Fields Too Large" }

/** The answer to a request node could not take (its `clientError`): the status it would give, and why. */
export const clientErrorAnswer = (code: string | undefined): { readonly status: number; readonly error: string } => {
  switch (code) {
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return { status: 408, error: "the request did not arrive in time: headers are due within the headers timeout, the whole request within the request timeout" }
    case "HPE_HEADER_OVERFLOW":
      return { status: 431, error: "the request's headers are too large" }
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
      return { status: 413, error: "the request's chunk extensions are too large" }
    default:
      return { status: 400, error: "the request is not valid HTTP" }
  }
}

/**
 * Answers what node refuses before any route runs (a late or malformed request) with the API's
 * `{"error"}` body instead of node's empty one, then closes the connection, as node does.
 */
export const answerClientErrors = (server: Server): Server =>
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    const response = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage
    if (socket.writable && response?.headersSent !== true && error.code !== "ECONNRESET") {
      const { status, error: message } = clientErrorAnswer(error.code)
      const body = JSON.stringify({ error: message })
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
      )
    }
    socket.destroy(error)
  })
