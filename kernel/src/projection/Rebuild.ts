/**
 * Rebuild: replay the whole log into fresh views and compare them with the live ones, table by
 * table. Used by `annal rebuild` and by the tests that prove every view is a pure function of
 * the log.
 */
import { EventStore, forEachStoredEvent, openScratch, type StoredEvent, type ViewDb } from "@annal/store"
import { Effect } from "effect"
import { buildInto, type Projection, tableDigest, tablesOf } from "./Projection.js"

export interface TableComparison {
  readonly table: string
  readonly live: { readonly rows: number; readonly digest: string }
  readonly fresh: { readonly rows: number; readonly digest: string }
  readonly equal: boolean
}

export interface RebuildReport {
  readonly equal: boolean
  readonly events: number
  readonly tables: ReadonlyArray<TableComparison>
  /** True when the live views differed and were replaced by the fresh ones. */
  readonly replaced: boolean
}

const replayFrom = (db: ViewDb) => (apply: (event: StoredEvent) => void) => {
  forEachStoredEvent(db, apply)
}

/**
 * Replays the log into a scratch database and compares every view table with the live one.
 * With `replace`, live views that differ are rebuilt in place from the log.
 */
export const rebuild = (projections: ReadonlyArray<Projection>, options: { readonly replace?: boolean } = {}) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    return yield* store.withViews((live) => {
      // Inside the writer's transaction nothing can append, so both sides see the same log.
      const scratch = openScratch()
      try {
        let events = 0
        buildInto(scratch.db, projections, (apply) =>
          replayFrom(live)((event) => {
            events++
            apply(event)
          }))
        const tables = tablesOf(projections).map((table): TableComparison => {
          const l = tableDigest(live, table)
          const f = tableDigest(scratch.db, table)
          return { table, live: l, fresh: f, equal: l.digest === f.digest }
        })
        const equal = tables.every((t) => t.equal)
        if (!equal && options.replace === true) {
          for (const table of tablesOf(projections)) live.exec(`DROP TABLE IF EXISTS "${table}"`)
          buildInto(live, projections, replayFrom(live))
        }
        return { equal, events, tables, replaced: !equal && options.replace === true } satisfies RebuildReport
      } finally {
        scratch.close()
      }
    })
  })
