/**
 * `GET /health` answered where the request arrives, before the Effect HTTP stack: liveness
 * probes come often and need nothing from the kernel, so they should cost what a plain
 * node:http answer costs. The same route in the HttpApi documents it and answers any variant
 * this path does not take (a query string, say).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { LimitedIncomingMessage } from "./BodyLimit.js"

/** The Node server Annal listens with: the /health fast path and the 413-preserving request class. */
export const makeNodeServer = (
  health: { readonly status: string; readonly version: string },
  observe: (method: string, seconds: number) => void
): Server => {
  const payload = Buffer.from(JSON.stringify(health))
  const headers = { "content-type": "application/json", "content-length": String(payload.length) }
  const server = createServer({ keepAliveTimeout: 65_000, IncomingMessage: LimitedIncomingMessage })
  const emit = server.emit.bind(server) as (event: string, ...args: Array<unknown>) => boolean
  server.emit = ((event: string, ...args: Array<unknown>) => {
    if (event === "request") {
      const req = args[0] as IncomingMessage
      if (req.url === "/health" && (req.method === "GET" || req.method === "HEAD")) {
        const started = performance.now()
        const res = args[1] as ServerResponse
        res.writeHead(200, headers)
        res.end(req.method === "HEAD" ? undefined : payload)
        observe(req.method, (performance.now() - started) / 1000)
        return true
      }
    }
    return emit(event, ...args)
  }) as typeof server.emit
  return server
}
