import BetterSqlite3 from "better-sqlite3"
import type Database from "better-sqlite3"

/** Parameters of a statement: positional or named. */
export type SqlParams = ReadonlyArray<unknown> | Readonly<Record<string, unknown>>

/**
 * Synchronous access to the view tables inside the append transaction. Projections use it
 * to apply an event; they must be deterministic (no clock, no randomness) so a replay of the
 * log produces the same tables.
 */
export interface ViewDb {
  /** Runs a statement; returns the number of changed rows. */
  readonly run: (sql: string, params?: SqlParams) => number
  readonly get: <A = Record<string, unknown>>(sql: string, params?: SqlParams) => A | undefined
  readonly all: <A = Record<string, unknown>>(sql: string, params?: SqlParams) => Array<A>
  /** Runs a script of several statements (DDL). */
  readonly exec: (sql: string) => void
}

const bind = (params: SqlParams | undefined): Array<unknown> =>
  params === undefined ? [] : Array.isArray(params) ? (params as Array<unknown>) : [params]

/** A ViewDb over a better-sqlite3 connection, with a statement cache. */
export const viewDbOf = (db: Database.Database): ViewDb => {
  const cache = new Map<string, Database.Statement>()
  const prepare = (sql: string) => {
    let stmt = cache.get(sql)
    if (stmt === undefined) {
      stmt = db.prepare(sql)
      cache.set(sql, stmt)
    }
    return stmt
  }
  return {
    run: (sql, params) => prepare(sql).run(...bind(params)).changes,
    get: <A>(sql: string, params?: SqlParams) => prepare(sql).get(...bind(params)) as A | undefined,
    all: <A>(sql: string, params?: SqlParams) => prepare(sql).all(...bind(params)) as Array<A>,
    exec: (sql) => {
      db.exec(sql)
    }
  }
}

/** A throwaway in-memory database for building views away from the live ones (rebuild checks). */
export const openScratch = (): { readonly db: ViewDb; readonly close: () => void } => {
  const sqlite = new BetterSqlite3(":memory:")
  return { db: viewDbOf(sqlite), close: () => sqlite.close() }
}
