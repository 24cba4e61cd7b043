/** Appending a decided command: the store's conflict becomes the kernel's ConcurrentChange. */
import { EventStore, type EventDraft, type EventMeta, EventStoreError, type ExpectedVersion, type StoredEvent, type ViewReader } from "@annal/store"
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import { ConcurrentChange } from "./errors.js"

/** Who acts and the request's meta, passed from the edge to every command. */
export interface CommandContext {
  readonly actor: string
  readonly meta?: EventMeta | undefined
}

/** Appends events decided at `expectedVersion`; a concurrent change fails with ConcurrentChange. */
export const appendDecided = (
  stream: string,
  expectedVersion: ExpectedVersion,
  events: ReadonlyArray<EventDraft>,
  context: CommandContext
): Effect.Effect<ReadonlyArray<StoredEvent>, ConcurrentChange | EventStoreError, EventStore> =>
  Effect.flatMap(EventStore, (store) =>
    store.append({ stream, expectedVersion, events, actor: context.actor, meta: context.meta }).pipe(
      Effect.catchTag("StreamVersionConflict", (e) => Effect.fail(new ConcurrentChange({ message: e.message })))
    ))

/** A failed view query as the store's error (the views are part of the store). */
export const readFailed = (what: string) => (cause: SqlError) => new EventStoreError({ reason: `could not read ${what}`, cause })

/** Runs a view query, mapping SQL failures to EventStoreError. */
export const query = <A>(
  what: string,
  run: (sql: SqlClient.SqlClient) => Effect.Effect<A, SqlError>
): Effect.Effect<A, EventStoreError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.mapError(run(sql), readFailed(what)))

/**
 * Reads the views synchronously on the store's writer connection: the hot path's reads, without
 * the SQL client's round trip. Failures name `what` like `query`'s.
 */
export const view = <A>(what: string, run: (db: ViewReader) => A): Effect.Effect<A, EventStoreError, EventStore> =>
  Effect.flatMap(EventStore, (store) =>
    Effect.mapError(store.readViews(run), (e) => new EventStoreError({ reason: `could not read ${what}`, cause: e.cause })))

/** The current version of a stream (0 when it has no events). */
export const streamVersion = (stream: string): Effect.Effect<number, EventStoreError, EventStore> =>
  view("a stream version", (db) =>
    db.get<{ version: number }>("SELECT version FROM events WHERE stream = ? ORDER BY version DESC LIMIT 1", [stream])?.version ?? 0)
