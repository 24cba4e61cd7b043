// The Effect floor of bench:http: the same route as bench/baseline-http-server.mjs
// (`GET /api/memory`, a bearer-token check, count and page from Annal's file, the same JSON) served
// by @effect/platform-node's HttpServer and HttpRouter with nothing else — no HttpApi, no
// middleware of Annal's, no rate limit, no metrics. VARIANT picks how far up Effect's stack it goes:
//   router  the rows through better-sqlite3 directly (the HTTP platform's own cost)
//   sql     the rows through @effect/sql-sqlite-node's SqlClient (the platform and the SQL client)
//   node bench/effect-http-server.mjs <annal.db> <token> [router|sql]
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import Database from "better-sqlite3"
import { Effect, Layer } from "effect"
import { createServer } from "node:http"

const [filename, token, variant = "router"] = process.argv.slice(2)
const expected = `Bearer ${token}`

const pageOf = (url) => {
  const params = new URLSearchParams(url.split("?")[1] ?? "")
  const page = Math.max(1, Number(params.get("page") ?? 1) || 1)
  const limit = Math.min(500, Math.max(1, Number(params.get("limit") ?? 50) || 50))
  return { page, limit }
}
const item = (r) => ({ name: r.id, category: r.type, importance: r.importance, created_at: r.created_at, stream: `memory-${r.id}` })
const unauthorized = HttpServerResponse.unsafeJson({ error: "unauthorized" }, { status: 401 })

const direct = () => {
  const db = new Database(filename, { readonly: true, fileMustExist: true })
  const count = db.prepare("SELECT count(*) AS n FROM memory_entries")
  const rows = db.prepare("SELECT id, type, importance, created_at FROM memory_entries ORDER BY seq DESC LIMIT ? OFFSET ?")
  return ({ page, limit }) => Effect.sync(() => ({ items: rows.all(limit, (page - 1) * limit).map(item), total: count.get().n, page, limit }))
}
const throughSql = (sql) => ({ page, limit }) =>
  Effect.map(
    Effect.all([
      sql`SELECT count(*) AS n FROM memory_entries`,
      sql`SELECT id, type, importance, created_at FROM memory_entries ORDER BY seq DESC LIMIT ${limit} OFFSET ${(page - 1) * limit}`
    ]),
    ([n, r]) => ({ items: r.map(item), total: n[0].n, page, limit })
  )

const app = (read) =>
  HttpRouter.empty.pipe(
    HttpRouter.get(
      "/api/memory",
      Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
        request.headers.authorization !== expected
          ? Effect.succeed(unauthorized)
          : Effect.map(read(pageOf(request.url)), (body) => HttpServerResponse.unsafeJson(body)))
    )
  )

const served = variant === "sql"
  ? Layer.unwrapEffect(Effect.map(SqlClient.SqlClient, (sql) => HttpServer.serve(app(throughSql(sql))))).pipe(
    Layer.provide(SqliteClient.layer({ filename, readonly: true }))
  )
  : HttpServer.serve(app(direct()))

const main = served.pipe(
  Layer.provideMerge(NodeHttpServer.layer(() => createServer({ keepAliveTimeout: 65_000 }), { port: 0, host: "127.0.0.1" })),
  Layer.provide(Layer.setTracerEnabled(false))
)
Effect.gen(function*() {
  const server = yield* HttpServer.HttpServer
  process.stdout.write(`listening on http://127.0.0.1:${server.address.port}\n`)
  return yield* Effect.never
}).pipe(Effect.provide(main), NodeRuntime.runMain)
