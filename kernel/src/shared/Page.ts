/** Paginated reads of a view: the rows of one page and the total. */
import type { PageRequest } from "@annal/spec"
import type { EventStoreError } from "@annal/store"
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import { readFailed } from "./Command.js"

export interface Paged<A> {
  readonly items: ReadonlyArray<A>
  readonly total: number
  readonly page: number
  readonly limit: number
}

/**
 * One page: `count` gives the total, `rows(limit, offset)` the page's rows, `map` each item.
 * The Oxios list shape `{items, total, page, limit}`.
 */
export const paged = <Row, A>(
  what: string,
  page: PageRequest,
  count: (sql: SqlClient.SqlClient) => Effect.Effect<ReadonlyArray<{ readonly n: number }>, SqlError>,
  rows: (sql: SqlClient.SqlClient, limit: number, offset: number) => Effect.Effect<ReadonlyArray<Row>, SqlError>,
  map: (row: Row) => A
): Effect.Effect<Paged<A>, EventStoreError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.all([count(sql), rows(sql, page.limit, page.offset)]).pipe(
      Effect.map(([n, r]) => ({ items: r.map(map), total: n[0]?.n ?? 0, page: page.page, limit: page.limit })),
      Effect.mapError(readFailed(what))
    ))
