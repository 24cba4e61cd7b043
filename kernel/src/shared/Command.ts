/** Appending a decided command: the store's conflict becomes the kernel's ConcurrentChange. */
import { EventStore, type EventDraft, type EventMeta, EventStoreError, type ExpectedVersion, type StoredEvent } from "@annal/store"
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
  /** Reads the views through the SQL client (see `query`). */
  readonly view: <A>(what: string, run: (sql: SqlClient.SqlClient) => Effect.Effect<A, SqlError>) => Effect.Effect<A, EventStoreError>
}

const conflict = (e: { readonly message: string }) => Effect.fail(new ConcurrentChange({ message: e.message }))

/** The command helpers over `store`, reading the views through `sql`. */
export const commandsOf = (store: EventStore["Type"], sql: SqlClient.SqlClient): Commands => ({
  appendDecided: (stream, expectedVersion, events, context) =>
    Effect.catchTag(store.append({ stream, expectedVersion, events, actor: context.actor, meta: context.meta }), "StreamVersionConflict", conflict),
  view: (what, run) => Effect.mapError(run(sql), readFailed(what))
})

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

/** Runs a view query, mapping SQL failures to EventStoreError. */
export const query = <A>(
  what: string,
  run: (sql: SqlClient.SqlClient) => Effect.Effect<A, SqlError>
): Effect.Effect<A, EventStoreError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.mapError(run(sql), readFailed(what)))

/** The current version of a stream (0 when it has no events). */
export const streamVersion = (stream: string): Effect.Effect<number, EventStoreError, EventStore> =>
  Effect.flatMap(EventStore, (store) => store.version(stream))
