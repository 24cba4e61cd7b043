/**
 * The connection the kernel's reads of the views go through (the SqlClient the store provides):
 * an @effect/sql `Connection` over a better-sqlite3 connection of its own, with a plain statement
 * cache. A statement runs synchronously to its end and nothing opens a transaction on this
 * connection (transactions take the live client), so a read needs no semaphore, no scope
 * finalizer and no time-to-live cache lookup — what @effect/sql-sqlite-node's connection pays on
 * every statement, about half of a read's Effect operations.
 */
import { SqlError } from "@effect/sql/SqlError"
import type { Connection } from "@effect/sql/SqlConnection"
import Database from "better-sqlite3"
import { Effect, type Scope, Stream } from "effect"

/** Opens the connection on `filename` for the scope; it waits up to `busyTimeoutMs` on another process's lock. */
export const make = (filename: string, busyTimeoutMs: number): Effect.Effect<Connection, SqlError, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.try({
        try: () => {
          const db = new Database(filename)
          db.pragma(`busy_timeout = ${busyTimeoutMs}`)
          return db
        },
        catch: (cause) => new SqlError({ cause, message: "Failed to open the views' connection" })
      }),
      (db) => Effect.sync(() => db.close())
    ),
    connectionOf
  )

/** A Connection over an open better-sqlite3 connection. */
const connectionOf = (db: Database.Database): Connection => {
  const cache = new Map<string, Database.Statement>()
  const prepare = (sql: string) => {
    let statement = cache.get(sql)
    if (statement === undefined) {
      statement = db.prepare(sql)
      cache.set(sql, statement)
    }
    return statement
  }
  const attempt = <A>(run: () => A) => Effect.try({ try: run, catch: (cause) => new SqlError({ cause, message: "Failed to execute statement" }) })
  const rowsOf = (statement: Database.Statement, params: ReadonlyArray<unknown>, raw: boolean): ReadonlyArray<any> => {
    if (statement.reader) return statement.all(...params)
    const result = statement.run(...params)
    return raw ? (result as unknown as ReadonlyArray<any>) : []
  }
  return {
    execute: (sql, params, transformRows) =>
      attempt(() => {
        const rows = rowsOf(prepare(sql), params, false)
        return transformRows === undefined ? rows : transformRows(rows)
      }),
    executeRaw: (sql, params) => attempt(() => rowsOf(prepare(sql), params, true)),
    executeValues: (sql, params) =>
      attempt(() => {
        const statement = prepare(sql)
        if (!statement.reader) {
          statement.run(...params)
          return []
        }
        statement.raw(true)
        try {
          return statement.all(...params) as ReadonlyArray<ReadonlyArray<unknown>>
        } finally {
          statement.raw(false)
        }
      }),
    executeUnprepared: (sql, params, transformRows) =>
      attempt(() => {
        const rows = rowsOf(db.prepare(sql), params, false)
        return transformRows === undefined ? rows : transformRows(rows)
      }),
    executeStream: () => Stream.dieMessage("executeStream not implemented")
  }
}
