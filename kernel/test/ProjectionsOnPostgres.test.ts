/**
 * The projections are engine-neutral (docs/store.md): the log of a realistic mixed run, written on
 * SQLite, projected again on a real PostgreSQL server (a throwaway cluster from initdb) through
 * the PostgreSQL ViewDb gives the same rows in every view table.
 */
import { describe, expect, it } from "@effect/vitest"
import { Kernel, Projection } from "@annal/kernel"
import { EventStore, pgClientLayer, Projector, type StoredEvent, viewDbOfPg } from "@annal/store"
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { mixedRun } from "./fixtures/mixedRun.js"
import { type Postgres, startPostgres } from "./fixtures/postgres.js"

/** Every row of every view table, each as JSON with its columns in name order, sorted: equal sets compare equal. */
const rowsOf = (sql: SqlClient.SqlClient, tables: ReadonlyArray<string>) =>
  Effect.forEach(tables, (table) =>
    Effect.map(
      // memory's full-text table is each engine's own; what both hold is its indexed columns
      table === "memory_fts" ? sql.unsafe<Record<string, unknown>>("SELECT rowid, content, tags FROM memory_fts") : sql.unsafe<Record<string, unknown>>(`SELECT * FROM "${table}"`),
      (rows) => [table, rows.map((row) => JSON.stringify(Object.keys(row).sort().map((k) => [k, row[k]]))).sort()] as const
    ))

describe("the projections on PostgreSQL", () => {
  it.live("a mixed run's log projected on PostgreSQL gives every view table the rows SQLite has", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "annal-pgviews-"))
      const tables = Projection.tablesOf(Kernel.projections)
      const { events, sqlite } = yield* Effect.gen(function*() {
        yield* mixedRun
        const store = yield* EventStore
        const events: ReadonlyArray<StoredEvent> = yield* store.read(1, (yield* store.head).seq)
        return { events, sqlite: yield* rowsOf(yield* SqlClient.SqlClient, tables) }
      }).pipe(Effect.provide(Kernel.layer({ store: { filename: join(dir, "annal.db"), synchronous: "OFF" }, dataDir: dir, resourceSampleIntervalSecs: 60 })))
      expect(new Set(events.map((e) => e.type)).size).toBeGreaterThan(20)

      const postgres: Postgres = yield* Effect.acquireRelease(Effect.promise(() => startPostgres()), (pg) => Effect.sync(pg.stop))
      const onPostgres = yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const views = viewDbOfPg(sql)
        const projector = yield* Effect.provide(Projector, Projection.projector(Kernel.projections))
        // the tables made as a store makes them at its first open, every event applied as its append would
        yield* sql.withTransaction(projector.prepare(views, (apply) => Effect.forEach(events, apply, { discard: true }), { rebuildAll: true }))
        return yield* rowsOf(sql, tables)
      }).pipe(Effect.provide(pgClientLayer(postgres.url)))

      const differing = sqlite.flatMap(([table, rows], i) => {
        const [, pgRows] = onPostgres[i]!
        return JSON.stringify(rows) === JSON.stringify(pgRows) ? [] : [{ table, sqlite: rows.slice(0, 3), postgres: pgRows.slice(0, 3), counts: [rows.length, pgRows.length] }]
      })
      expect(differing).toEqual([])
      // the run reaches most views: an empty table on both sides would prove little
      expect(sqlite.filter(([, rows]) => rows.length > 0).length).toBeGreaterThan(15)
    }).pipe(Effect.scoped), 120_000)
})
