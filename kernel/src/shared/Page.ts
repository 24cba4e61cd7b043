/** Paginated reads of a view: the rows of one page and the total. */
import type { PageRequest } from "@annal/spec"
import type { EventStoreError } from "@annal/store"
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, type Schema } from "effect"
import { readersOf } from "./Command.js"

export interface Paged<A> {
  readonly items: ReadonlyArray<A>
  readonly total: number
  readonly page: number
  readonly limit: number
}

/**
 * One page through `sql` (the client a service holds: nothing to provide, since providing a
 * service per read copies and compares the whole context): `count` gives the total (`SELECT
 * count(*) AS n`), `rows(limit, offset)` the page's rows, decoded by `row` (the view's row
 * Schema), `map` each item. The Oxios list shape `{items, total, page, limit}`.
 */
export const pagedWith = (sql: SqlClient.SqlClient) =>
<Row, I, A>(
  what: string,
  page: PageRequest,
  count: (sql: SqlClient.SqlClient) => Effect.Effect<ReadonlyArray<unknown>, SqlError>,
  row: Schema.Schema<Row, I, never>,
  rows: (sql: SqlClient.SqlClient, limit: number, offset: number) => Effect.Effect<ReadonlyArray<unknown>, SqlError>,
  map: (row: Row) => A
): Effect.Effect<Paged<A>, EventStoreError> => {
  const read = readersOf(sql)
  return Effect.map(
    Effect.all([read.count(what, count), read.view(what, row, (sql) => rows(sql, page.limit, page.offset))]),
    ([total, r]) => ({ items: r.map(map), total, page: page.page, limit: page.limit })
  )
}

/** One page, through the SqlClient in the context (see `pagedWith`). */
export const paged = <Row, I, A>(
  what: string,
  page: PageRequest,
  count: (sql: SqlClient.SqlClient) => Effect.Effect<ReadonlyArray<unknown>, SqlError>,
  row: Schema.Schema<Row, I, never>,
  rows: (sql: SqlClient.SqlClient, limit: number, offset: number) => Effect.Effect<ReadonlyArray<unknown>, SqlError>,
  map: (row: Row) => A
): Effect.Effect<Paged<A>, EventStoreError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => pagedWith(sql)(what, page, count, row, rows, map))
