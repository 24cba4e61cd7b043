// The baseline of bench:http: plain node:http and better-sqlite3 answering `GET /api/memory`
// from the same SQLite file Annal writes, with the same JSON: a bearer-token check, the page's
// rows and the total, `{items, total, page, limit}`. Nothing else (no rate limit, no metrics).
//   node bench/baseline-http-server.mjs <annal.db> <token>
import Database from "better-sqlite3"
import { createServer } from "node:http"

const [filename, token] = process.argv.slice(2)
const db = new Database(filename, { readonly: true, fileMustExist: true })
const count = db.prepare("SELECT count(*) AS n FROM memory_entries")
const rows = db.prepare("SELECT id, type, importance, created_at FROM memory_entries ORDER BY seq DESC LIMIT ? OFFSET ?")
const expected = `Bearer ${token}`

const send = (res, status, body) => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
  res.end(text)
}

const server = createServer((req, res) => {
  const url = new URL(req.url, "http://localhost")
  if (url.pathname !== "/api/memory" || req.method !== "GET") return send(res, 404, { error: "not found" })
  if (req.headers.authorization !== expected) return send(res, 401, { error: "unauthorized" })
  const page = Math.max(1, Number(url.searchParams.get("page") ?? 1) || 1)
  const limit = Math.min(500, Math.max(1, Number(url.searchParams.get("limit") ?? 50) || 50))
  const items = rows.all(limit, (page - 1) * limit).map((r) => ({ name: r.id, category: r.type, importance: r.importance, created_at: r.created_at, stream: `memory-${r.id}` }))
  send(res, 200, { items, total: count.get().n, page, limit })
})
server.keepAliveTimeout = 65_000
server.listen(0, "127.0.0.1", () => process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`))
