import { Effect, Schema } from "effect"
import type { ViewDb } from "./ViewDb.js"

/** A JSON object: the only shape `data` and `meta` may take. */
export type JsonObject = { readonly [key: string]: unknown }

/** What a command hands the store to append: a past-tense fact about one stream. */
export interface EventDraft {
  readonly type: string
  readonly data: JsonObject
}

/** Known keys of an event's `meta`; others may be present. */
export interface EventMeta {
  readonly correlation_id?: string
  readonly causation_id?: string
  readonly session_id?: string
  readonly idempotency_key?: string
  readonly [key: string]: unknown
}

/** One committed row of the log, exactly as stored (data and meta parsed). */
export const StoredEvent = Schema.Struct({
  seq: Schema.Number,
  id: Schema.String,
  stream: Schema.String,
  version: Schema.Number,
  type: Schema.String,
  actor: Schema.String,
  at: Schema.String,
  data: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  meta: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  prev_hash: Schema.String,
  hash: Schema.String
})
export interface StoredEvent {
  readonly seq: number
  readonly id: string
  readonly stream: string
  readonly version: number
  readonly type: string
  readonly actor: string
  readonly at: string
  readonly data: JsonObject
  readonly meta: EventMeta
  readonly prev_hash: string
  readonly hash: string
}

/** A row as SQLite holds it: data and meta are JSON text. */
export const EventRow = Schema.Struct({
  seq: Schema.Number,
  id: Schema.String,
  stream: Schema.String,
  version: Schema.Number,
  type: Schema.String,
  actor: Schema.String,
  at: Schema.String,
  data: Schema.String,
  meta: Schema.String,
  prev_hash: Schema.String,
  hash: Schema.String
})
export type EventRow = typeof EventRow.Type

/** Parses a stored row into an event. */
export const fromRow = (row: EventRow): StoredEvent => ({
  seq: row.seq,
  id: row.id,
  stream: row.stream,
  version: row.version,
  type: row.type,
  actor: row.actor,
  at: row.at,
  data: JSON.parse(row.data) as JsonObject,
  meta: JSON.parse(row.meta) as EventMeta,
  prev_hash: row.prev_hash,
  hash: row.hash
})

/** The position of the log's last event (seq 0 and the genesis hash when empty). */
export interface LogHead {
  readonly seq: number
  readonly hash: string
}

/**
 * Calls `apply` for every stored event in seq order, a page at a time (statements may run on
 * the same connection between pages, which an open cursor would forbid).
 */
export const forEachStoredEvent = (
  db: Pick<ViewDb, "all">,
  apply: (event: StoredEvent) => Effect.Effect<void>,
  pageSize = 2000
): Effect.Effect<number> =>
  Effect.gen(function*() {
    let after = 0
    let count = 0
    while (true) {
      const rows = yield* db.all<EventRow>("SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?", [after, pageSize])
      for (const row of rows) yield* apply(fromRow(row))
      count += rows.length
      if (rows.length < pageSize) return count
      after = rows[rows.length - 1]!.seq
    }
  })
