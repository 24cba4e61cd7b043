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
  /** Reads the views synchronously on the store's writer connection (see `view`). */
  readonly view: <A>(what: string, run: (db: ViewReader) => A) => Effect.Effect<A, EventStoreError>
  /** The current version of a stream (0 when it has no events). */
  readonly streamVersion: (stream: string) => Effect.Effect<number, EventStoreError>
}

const conflict = (e: { readonly message: string }) => Effect.fail(new ConcurrentChange({ message: e.message }))

/** The command helpers over `store`. */
export const commandsOf = (store: EventStore["Type"]): Commands => {
  const view = <A>(what: string, run: (db: ViewReader) => A) =>
    Effect.mapError(store.readViews(run), (e) => new EventStoreError({ reason: `could not read ${what}`, cause: e.cause }))
  return {
    appendDecided: (stream, expectedVersion, events, context) =>
      Effect.catchTag(store.append({ stream, expectedVersion, events, actor: context.actor, meta: context.meta }), "StreamVersionConflict", conflict),
    view,
    streamVersion: (stream) =>
      view("a stream version", (db) =>
        db.get<{ version: number }>("SELECT version FROM events WHERE stream = ? ORDER BY version DESC LIMIT 1", [stream])?.version ?? 0)
  }
}

/** Appends events decided at `expectedVersion`; a concurrent change fails with ConcurrentChange. */
export const appendDecided = (
  stream: string,
  expectedVersion: ExpectedVersion,
  events: ReadonlyArray<EventDraft>,
  context: CommandContext
): Effect.Effect<ReadonlyArray<StoredEvent>, ConcurrentChange | EventStoreError, EventStore> =>
  Effect.flatMap(EventStore, (store) =>
    Effect.catchTag(store.append({ stream, expectedVersion, events, actor: context.actor, meta: context.meta }), "StreamVersionConflict", conflict))

/** A failed view query as the store's error (the views are part of the store). */
/** An event to append, from its Schema'd data. */
export const draft = <A extends object>(type: string, data: A): EventDraft => ({ type, data: data as unknown as Record<string, unknown> })

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
  Effect.flatMap(EventStore, (store) => commandsOf(store).view(what, run))

/** The current version of a stream (0 when it has no events). */
export const streamVersion = (stream: string): Effect.Effect<number, EventStoreError, EventStore> =>
  Effect.flatMap(EventStore, (store) => commandsOf(store).streamVersion(stream))
