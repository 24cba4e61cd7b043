/** Appending a decided command: the store's conflict becomes the kernel's ConcurrentChange. */
import { EventStore, type EventDraft, type EventMeta, EventStoreError, type ExpectedVersion, type StoredEvent } from "@annal/store"
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Schema } from "effect"
import { ConcurrentChange } from "./errors.js"
import { Count, decodeRows } from "./ViewRow.js"

/** Who acts and the request's meta, passed from the edge to every command. */
export interface CommandContext {
  readonly actor: string
  readonly meta?: EventMeta | undefined
}

/**
 * The command helpers bound to one store. They need nothing from the context, so a service that
 * took the store when it was built calls them without `Effect.provide` (which copies and compares
 * the whole context, tens of µs each time, on the chat's hot path).
 */
export interface Commands {
  /** Appends events decided at `expectedVersion`; a concurrent change fails with ConcurrentChange. */
  readonly appendDecided: (
    stream: string,
    expectedVersion: ExpectedVersion,
    events: ReadonlyArray<EventDraft>,
    context: CommandContext
  ) => Effect.Effect<ReadonlyArray<StoredEvent>, ConcurrentChange | EventStoreError>
  /** Reads rows of the views through the SQL client and their row Schema (see `query`). */
  readonly view: ViewRead
  /** Reads a count (`SELECT count(*) AS n …`) through `Count` (see `counted`). */
  readonly count: (what: string, run: (sql: SqlClient.SqlClient) => Effect.Effect<ReadonlyArray<unknown>, SqlError>) => Effect.Effect<number, EventStoreError>
}

/** A read of a view: `run`'s rows decoded by `row`; a failed query or a refused row is an EventStoreError naming `what`. */
type ViewRead = <A, I>(
  what: string,
  row: Schema.Schema<A, I, never>,
  run: (sql: SqlClient.SqlClient) => Effect.Effect<ReadonlyArray<unknown>, SqlError>
) => Effect.Effect<ReadonlyArray<A>, EventStoreError>

const readWith = (sql: SqlClient.SqlClient): ViewRead => (what, row, run) =>
  Effect.flatMap(Effect.mapError(run(sql), readFailed(what)), decodeRows(row, what))

const conflict = (e: { readonly message: string }) => Effect.fail(new ConcurrentChange({ message: e.message }))

/** The command helpers over `store`, reading the views through `sql`. */
export const commandsOf = (store: EventStore["Type"], sql: SqlClient.SqlClient): Commands => ({
  appendDecided: (stream, expectedVersion, events, context) =>
    Effect.catchTag(store.append({ stream, expectedVersion, events, actor: context.actor, meta: context.meta }), "StreamVersionConflict", conflict),
  ...readersOf(sql)
})

/** The view reads of `commandsOf`, over `sql`. */
export const readersOf = (sql: SqlClient.SqlClient): Pick<Commands, "view" | "count"> => {
  const view = readWith(sql)
  return { view, count: (what, run) => Effect.map(view(what, Count, run), nOf) }
}

const nOf = (rows: ReadonlyArray<typeof Count.Type>) => rows[0]?.n ?? 0

/** Appends events decided at `expectedVersion`; a concurrent change fails with ConcurrentChange. */
export const appendDecided = (
  stream: string,
  expectedVersion: ExpectedVersion,
  events: ReadonlyArray<EventDraft>,
  context: CommandContext
): Effect.Effect<ReadonlyArray<StoredEvent>, ConcurrentChange | EventStoreError, EventStore> =>
  Effect.flatMap(EventStore, (store) =>
    Effect.catchTag(store.append({ stream, expectedVersion, events, actor: context.actor, meta: context.meta }), "StreamVersionConflict", conflict))

/** An event to append, from its Schema'd data. */
export const draft = <A extends object>(type: string, data: A): EventDraft => ({ type, data: data as unknown as Record<string, unknown> })

/** A failed view query as the store's error (the views are part of the store). */
export const readFailed = (what: string) => (cause: SqlError) => new EventStoreError({ reason: `could not read ${what}`, cause })

/**
 * Reads rows of a view through its row Schema (the one its projection exports): a failed query
 * or a row the Schema refuses is an EventStoreError naming `what`.
 */
export const query = <A, I>(
  what: string,
  row: Schema.Schema<A, I, never>,
  run: (sql: SqlClient.SqlClient) => Effect.Effect<ReadonlyArray<unknown>, SqlError>
): Effect.Effect<ReadonlyArray<A>, EventStoreError, SqlClient.SqlClient> => Effect.flatMap(SqlClient.SqlClient, (sql) => readWith(sql)(what, row, run))

/** A count (`SELECT count(*) AS n …`) read through `Count`. */
export const counted = (
  what: string,
  run: (sql: SqlClient.SqlClient) => Effect.Effect<ReadonlyArray<unknown>, SqlError>
): Effect.Effect<number, EventStoreError, SqlClient.SqlClient> => Effect.map(query(what, Count, run), nOf)

/** The current version of a stream (0 when it has no events). */
export const streamVersion = (stream: string): Effect.Effect<number, EventStoreError, EventStore> =>
  Effect.flatMap(EventStore, (store) => store.version(stream))
