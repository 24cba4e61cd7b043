/**
 * The chat's WebSocket (`/api/chat/stream`, authenticated by the session cookie). When the
 * connection drops it reconnects with backoff and sends `resume` from the last seq the page
 * applied, so the run's frames continue without a gap (the reducer drops any repeat).
 */
import type { Frame } from "./chatState.js"

export interface ChatSocketHandlers {
  readonly onFrame: (frame: Frame) => void
  readonly onStatus: (connected: boolean) => void
  /** The seq to resume from and the session to follow, asked at each reconnect. */
  readonly resumePoint: () => { readonly lastSeq: number; readonly sessionId: string | undefined }
}

export const chatSocketUrl = (location: { readonly protocol: string; readonly host: string }) =>
  `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/api/chat/stream`

/** Backoff before reconnect attempt `n` (0-based): 0.5 s doubling to 8 s. */
export const backoffMs = (attempt: number) => Math.min(8000, 500 * 2 ** attempt)

export class ChatSocket {
  private socket: WebSocket | undefined
  private attempt = 0
  private closed = false
  private everOpened = false
  private timer: ReturnType<typeof setTimeout> | undefined
  private readonly outbox: Array<string> = []

  constructor(private readonly url: string, private readonly handlers: ChatSocketHandlers) {
    this.open()
  }

  private open() {
    const socket = new WebSocket(this.url)
    this.socket = socket
    socket.onopen = () => {
      this.attempt = 0
      this.handlers.onStatus(true)
      if (this.everOpened) {
        const { lastSeq, sessionId } = this.handlers.resumePoint()
        if (sessionId !== undefined) socket.send(JSON.stringify({ type: "resume", last_seq: lastSeq, session_id: sessionId }))
      }
      this.everOpened = true
      for (const text of this.outbox.splice(0)) socket.send(text)
    }
    socket.onmessage = (event) => {
      try {
        this.handlers.onFrame(JSON.parse(String(event.data)) as Frame)
      } catch {
        // a frame that is not JSON is not ours to show
      }
    }
    socket.onclose = () => {
      if (this.socket !== socket) return
      this.socket = undefined
      if (this.closed) return
      this.handlers.onStatus(false)
      this.timer = setTimeout(() => this.open(), backoffMs(this.attempt++))
    }
  }

  /** Sends a frame now, or as soon as the socket is open. */
  send(frame: unknown) {
    const text = JSON.stringify(frame)
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(text)
    else this.outbox.push(text)
  }

  /** Follows a session from a seq (after opening one from the list). */
  follow(sessionId: string, lastSeq: number) {
    this.send({ type: "resume", last_seq: lastSeq, session_id: sessionId })
  }

  close() {
    this.closed = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.socket?.close()
  }
}
