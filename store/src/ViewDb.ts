import BetterSqlite3 from "better-sqlite3"
import type Database from "better-sqlite3"
import { Cause, Effect, Exit } from "effect"

/** Parameters of a statement: positional or named. */
export type SqlParams = ReadonlyArray<unknown> | Readonly<Record<string, unknown>>

/**
 * What the projections see of the view tables, inside the append's transaction: the port each
 * storage engine implements (docs/store.md). Every call is an Effect, so an engine whose driver
 * is asynchronous (PostgreSQL) runs the same projections as one whose driver is synchronous
 * (SQLite, where the Effects complete at once inside the transaction).
 *
 * The SQL is the subset both engines accept: positional `?` parameters (an engine that numbers
 * them, `$1`…, rewrites them; a `?` never appears inside a literal), `INSERT … ON CONFLICT (…) DO
 * UPDATE/NOTHING` with `excluded.`, no engine's own functions except through `greatest`. A
 * projection must be deterministic (no clock, no randomness) so a replay of the log produces the
 * same tables. A statement that fails is a defect: the append it belongs to is rolled back and its
 * caller gets the error.
 */
export interface ViewDb {
  /** The engine's name, for the rare table only one engine has (memory's full-text index). */
  readonly engine: "sqlite" | "postgres"
  /** Runs a statement; returns the number of changed rows. */
  readonly run: (sql: string, params?: SqlParams) => Effect.Effect<number>
  readonly get: <A = Record<string, unknown>>(sql: string, params?: SqlParams) => Effect.Effect<A | undefined>
  readonly all: <A = Record<string, unknown>>(sql: string, params?: SqlParams) => Effect.Effect<Array<A>>
  /** Runs a script of several statements (DDL). */
  readonly exec: (sql: string) => Effect.Effect<void>
  /** The SQL expression for the largest of `expressions` (SQLite's `max(a, b)`, PostgreSQL's `GREATEST(a, b)`). */
  readonly greatest: (...expressions: ReadonlyArray<string>) => string
}

const bind = (params: SqlParams | undefined): Array<unknown> =>
  params === undefined ? [] : Array.isArray(params) ? (params as Array<unknown>) : [params]

/** A ViewDb over a better-sqlite3 connection, with a statement cache: each Effect completes at once. */
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
    engine: "sqlite",
    run: (sql, params) => Effect.sync(() => prepare(sql).run(...bind(params)).changes),
    get: <A>(sql: string, params?: SqlParams) => Effect.sync(() => prepare(sql).get(...bind(params)) as A | undefined),
    all: <A>(sql: string, params?: SqlParams) => Effect.sync(() => prepare(sql).all(...bind(params)) as Array<A>),
    exec: (sql) => Effect.sync(() => void db.exec(sql)),
    greatest: (...expressions) => `max(${expressions.join(", ")})`
  }
}

/**
 * Runs view work on SQLite's synchronous connection, where it completes at once (inside a
 * better-sqlite3 transaction, which cannot span an await): its value, or its failure thrown as
 * it was raised, which rolls the transaction back.
 */
export const runNow = <A>(effect: Effect.Effect<A>): A => {
  const exit = Effect.runSyncExit(effect)
  if (Exit.isSuccess(exit)) return exit.value
  throw Cause.squash(exit.cause)
}

/** A throwaway in-memory database for building views away from the live ones (rebuild checks). */
export const openScratch = (): { readonly db: ViewDb; readonly close: () => void } => {
  const sqlite = new BetterSqlite3(":memory:")
  return { db: viewDbOf(sqlite), close: () => sqlite.close() }
}
