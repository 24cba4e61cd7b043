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

const replayFrom = (db: ViewDb) => (apply: (event: StoredEvent) => Effect.Effect<void>) => Effect.asVoid(forEachStoredEvent(db, apply))

/**
 * Replays the log into a scratch database and compares every view table with the live one.
 * With `replace`, live views that differ are rebuilt in place from the log.
 */
export const rebuild = (projections: ReadonlyArray<Projection>, options: { readonly replace?: boolean } = {}) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    // Inside the store's transaction nothing can append, so both sides see the same log.
    return yield* store.withViews((live) =>
      Effect.acquireUseRelease(
        Effect.sync(openScratch),
        (scratch) =>
          Effect.gen(function*() {
            let events = 0
            yield* buildInto(scratch.db, projections, (apply) =>
              replayFrom(live)((event) => {
                events++
                return apply(event)
              }))
            const tables = yield* Effect.forEach(tablesOf(projections), (table) =>
              Effect.gen(function*() {
                const l = yield* tableDigest(live, table)
                const f = yield* tableDigest(scratch.db, table)
                return { table, live: l, fresh: f, equal: l.digest === f.digest } satisfies TableComparison
              }))
            const equal = tables.every((t) => t.equal)
            if (!equal && options.replace === true) {
              yield* Effect.forEach(tablesOf(projections), (table) => live.exec(`DROP TABLE IF EXISTS "${table}"`), { discard: true })
              yield* buildInto(live, projections, replayFrom(live))
            }
            return { equal, events, tables, replaced: !equal && options.replace === true } satisfies RebuildReport
          }),
        (scratch) => Effect.sync(() => scratch.close())
      ))
  })
