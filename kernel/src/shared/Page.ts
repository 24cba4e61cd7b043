/** Paginated reads of a view: the rows of one page and the total. */
import type { PageRequest } from "@annal/spec"
import type { EventStoreError } from "@annal/store"
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, type Schema } from "effect"
import { counted, query } from "./Command.js"

export interface Paged<A> {
  readonly items: ReadonlyArray<A>
  readonly total: number
  readonly page: number
  readonly limit: number
}

/**
 * One page: `count` gives the total (`SELECT count(*) AS n`), `rows(limit, offset)` the page's
 * rows, decoded by `row` (the view's row Schema), `map` each item.
 * The Oxios list shape `{items, total, page, limit}`.
 */
export const paged = <Row, I, A>(
  what: string,
  page: PageRequest,
  count: (sql: SqlClient.SqlClient) => Effect.Effect<ReadonlyArray<unknown>, SqlError>,
  row: Schema.Schema<Row, I, never>,
  rows: (sql: SqlClient.SqlClient, limit: number, offset: number) => Effect.Effect<ReadonlyArray<unknown>, SqlError>,
  map: (row: Row) => A
): Effect.Effect<Paged<A>, EventStoreError, SqlClient.SqlClient> =>
  Effect.map(
    Effect.all([counted(what, count), query(what, row, (sql) => rows(sql, page.limit, page.offset))]),
    ([total, r]) => ({ items: r.map(map), total, page: page.page, limit: page.limit })
  )
