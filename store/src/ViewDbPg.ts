/**
 * The ViewDb on PostgreSQL: the projections' SQL through @effect/sql-pg's client, inside whatever
 * transaction the calling fiber holds. What the port's SQL means on SQLite is kept: `?`
 * parameters become `$1`, `$2`…; in DDL an `INTEGER` column is 64-bit (`BIGINT`, SQLite's integer)
 * and a `REAL` one double precision (SQLite's real); `greatest` is `GREATEST`. A failed statement
 * is a defect, as on SQLite: the append it belongs to is rolled back.
 */
import type { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import * as PgTypes from "pg-types"
import type { SqlParams, ViewDb } from "./ViewDb.js"

/** `?` placeholders numbered for PostgreSQL; the port's SQL has no `?` inside literals. */
const numberedParameters = (sql: string): string => {
  let n = 0
  return sql.replace(/\?/g, () => `$${++n}`)
}

/** SQLite's column types as PostgreSQL spells them with the same range and precision. */
const postgresDdl = (ddl: string): string => ddl.replace(/\bINTEGER\b/g, "BIGINT").replace(/\bREAL\b/g, "DOUBLE PRECISION")

const positional = (params: SqlParams | undefined): ReadonlyArray<unknown> => {
  if (params === undefined) return []
  if (Array.isArray(params)) return params as ReadonlyArray<unknown>
  throw new TypeError("the PostgreSQL ViewDb takes positional parameters only")
}

/** A ViewDb over `sql`, a PostgreSQL client (`pgClientLayer`); its statements run in the transaction of the fiber that runs them, if any. */
export const viewDbOfPg = (sql: SqlClient.SqlClient): ViewDb => {
  const rows = <A>(text: string, params?: SqlParams) => Effect.orDie(sql.unsafe<A & object>(numberedParameters(text), positional(params)))
  return {
    engine: "postgres",
    run: (text, params) =>
      Effect.orDie(Effect.map(sql.unsafe(numberedParameters(text), positional(params)).raw, (result) => (result as { rowCount?: number | null }).rowCount ?? 0)),
    get: <A>(text: string, params?: SqlParams) => Effect.map(rows<A>(text, params), (all) => all[0] as A | undefined),
    all: <A>(text: string, params?: SqlParams) => Effect.map(rows<A>(text, params), (all) => [...all] as Array<A>),
    // several statements at once go through the simple protocol (no parameters)
    exec: (text) => Effect.asVoid(Effect.orDie(sql.unsafe(postgresDdl(text)))),
    greatest: (...expressions) => `GREATEST(${expressions.join(", ")})`
  }
}

/** PostgreSQL's OID of `int8` (BIGINT). */
const INT8 = 20

/** A BIGINT as the number SQLite's driver gives for an INTEGER; beyond 2^53 it would not be exact, so it fails. */
const parseInt8 = (text: string): number => {
  const n = Number(text)
  if (!Number.isSafeInteger(n)) throw new RangeError(`the BIGINT ${text} is beyond what a JavaScript number holds exactly`)
  return n
}

/** The client the views are read and written through: a BIGINT comes back as a number, as on SQLite. */
export const pgClientLayer = (url: string) =>
  PgClient.layer({
    url: Redacted.make(url),
    types: { getTypeParser: ((oid: number, format?: "text" | "binary") => oid === INT8 && format !== "binary" ? parseInt8 : PgTypes.getTypeParser(oid, format as "text")) as never }
  })
