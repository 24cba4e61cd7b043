/** A WebSocket client for tests of `/api/chat/stream`: collects the server's frames and waits for one. */
import { WebSocket } from "ws"
import type { RunningServer } from "./harness.js"

export interface Client {
  readonly ws: WebSocket
  readonly frames: Array<any>
  readonly send: (frame: unknown) => void
  /** Waits until a frame matches; returns it. */
  readonly next: (match: (frame: any) => boolean, ms?: number) => Promise<any>
  readonly closed: Promise<{ code: number; reason: string }>
}

export const wsUrl = (s: RunningServer, token: string | null) => `${s.url.replace(/^http/, "ws")}/api/chat/stream${token === null ? "" : `?token=${encodeURIComponent(token)}`}`

/** Connects with the token (or none); rejects with `status` when the server refuses the upgrade. */
export const connect = (s: RunningServer, token: string | null = s.token): Promise<Client> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(s, token))
    const frames: Array<any> = []
    const waiters: Array<() => void> = []
    ws.on("message", (data) => {
      frames.push(JSON.parse(String(data)))
      waiters.splice(0).forEach((w) => w())
    })
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.on("close", (code, reason) => r({ code, reason: String(reason) })))
    const next = (match: (frame: any) => boolean, ms = 15_000) =>
      new Promise<any>((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`no matching frame in ${ms} ms; got ${JSON.stringify(frames.map((f) => f.type))}`)), ms)
        const check = () => {
          const found = frames.find(match)
          if (found !== undefined) {
            clearTimeout(timer)
            res(found)
          } else waiters.push(check)
        }
        check()
      })
    ws.on("open", () => resolve({ ws, frames, send: (f) => ws.send(typeof f === "string" ? f : JSON.stringify(f)), next, closed }))
    ws.on("unexpected-response", (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })))
    ws.on("error", reject)
  })
