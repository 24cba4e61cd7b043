/**
 * Past views on SQLite: the views as of any seq, read through `readingAt` by the same queries the
 * live views answer (through the store's SqlClient), snapshots written as replays pass
 * them and dropped when the log no longer has the event they were taken at.
 */
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import Database from "better-sqlite3"
import { Effect, Layer } from "effect"
import { existsSync, mkdtempSync, readdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { EventStore, EventStoreSqlite, IdGenerator, PastViews, PastViewsSqlite, Projector, readingAt } from "../src/index.js"

/** A view of one table: the running total and count of `added` events. */
const totals = Layer.succeed(Projector, {
  prepare: (db, replay, { rebuildAll }) =>
    Effect.gen(function*() {
      if (rebuildAll) yield* db.exec("DROP TABLE IF EXISTS totals")
      yield* db.exec("CREATE TABLE IF NOT EXISTS totals (id INTEGER PRIMARY KEY CHECK (id = 1), total INTEGER NOT NULL, count INTEGER NOT NULL)")
      yield* db.run("INSERT INTO totals (id, total, count) VALUES (1, 0, 0) ON CONFLICT (id) DO NOTHING")
      if (rebuildAll) yield* replay((event) => Effect.asVoid(db.run("UPDATE totals SET total = total + ?, count = count + 1", [(event.data as { n: number }).n])))
    }),
  apply: (event, db) => Effect.asVoid(db.run("UPDATE totals SET total = total + ?, count = count + 1", [(event.data as { n: number }).n]))
})

const setup = (every: number) => {
  const dir = mkdtempSync(join(tmpdir(), "annal-past-"))
  const store = EventStoreSqlite.layer({ filename: join(dir, "annal.db"), synchronous: "NORMAL" }).pipe(
    Layer.provideMerge(Layer.merge(totals, IdGenerator.layer))
  )
  const layer = PastViewsSqlite.layer({ directory: join(dir, "past-views"), snapshotEvery: every }).pipe(Layer.provideMerge(store))
  return { dir, layer }
}

const add = (n: number) => ({ type: "added", data: { n } })

/** A read as a service makes it, through the SqlClient. */
const readTotals = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const [totals] = yield* sql<{ total: number; count: number }>`SELECT total, count FROM totals`
  return totals!
})

describe("past views (SQLite)", () => {
  it.live("answer every read as of any seq, take snapshots as replays pass them, and leave the live views alone", () => {
    const { dir, layer } = setup(10)
    return Effect.gen(function*() {
      const store = yield* EventStore
      const past = yield* PastViews
      for (let n = 1; n <= 35; n++) yield* store.append({ stream: "s", expectedVersion: "any", events: [add(n)], actor: "system" })
      const sum = (k: number) => (k * (k + 1)) / 2
      expect(yield* readTotals).toEqual({ total: sum(35), count: 35 })

      for (const seq of [0, 1, 9, 10, 11, 25, 35]) {
        expect(yield* readingAt(yield* past.at(seq))(readTotals)).toEqual({ total: sum(seq), count: seq })
      }
      // the replay to 35 passed 10, 20 and 30
      expect(readdirSync(join(dir, "past-views", "snapshots")).sort()).toEqual(["10.db", "20.db", "30.db"])
      expect(yield* readTotals).toEqual({ total: sum(35), count: 35 })
      // a later build starts from the nearest snapshot
      const file = join(dir, "at-27.db")
      expect(yield* past.writeAt(27, file)).toEqual({ from: 20, replayed: 7 })
      const written = new Database(file, { readonly: true })
      expect(written.prepare("SELECT total, count FROM totals").get()).toEqual({ total: sum(27), count: 27 })
      written.close()

      const beyond = yield* Effect.flip(past.at(36))
      expect(beyond).toMatchObject({ _tag: "BeyondHead", seq: 36, head: 35 })
    }).pipe(Effect.provide(layer), Effect.scoped)
  })

  it.live("drop a snapshot whose event the log no longer has there (the log was rewritten after it was taken)", () => {
    const { dir, layer } = setup(10)
    const snapshots = join(dir, "past-views", "snapshots")
    return Effect.gen(function*() {
      yield* Effect.gen(function*() {
        const store = yield* EventStore
        for (let n = 1; n <= 15; n++) yield* store.append({ stream: "s", expectedVersion: "any", events: [add(n)], actor: "system" })
        yield* (yield* PastViews).at(15)
        expect(existsSync(join(snapshots, "10.db"))).toBe(true)
      }).pipe(Effect.provide(layer), Effect.scoped)

      // the log cut back to 5 events and written again differently
      const db = new Database(join(dir, "annal.db"))
      db.prepare("DELETE FROM events WHERE seq > 5").run()
      db.close()
      yield* Effect.gen(function*() {
        const store = yield* EventStore
        for (let n = 6; n <= 15; n++) yield* store.append({ stream: "s", expectedVersion: "any", events: [add(100 * n)], actor: "system" })
        const at12 = yield* readingAt(yield* (yield* PastViews).at(12))(readTotals)
        expect(at12).toEqual({ total: 1 + 2 + 3 + 4 + 5 + 100 * (6 + 7 + 8 + 9 + 10 + 11 + 12), count: 12 })
      }).pipe(Effect.provide(layer), Effect.scoped)
    })
  })
})
