/** Appending a decided command: the store's conflict becomes the kernel's ConcurrentChange. */
import { EventStore, type EventDraft, type EventMeta, EventStoreError, type ExpectedVersion, type StoredEvent, type ViewReader } from "@annal/store"
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Exit } from "effect"
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
  /** Queues `appendDecided`'s append at once and returns the wait for its commit (see `EventStore.enqueue`). */
  readonly enqueueDecided: (
    stream: string,
    expectedVersion: ExpectedVersion,
    events: ReadonlyArray<EventDraft>,
    context: CommandContext
  ) => Effect.Effect<Effect.Effect<ReadonlyArray<StoredEvent>, ConcurrentChange | EventStoreError>>
  /** Reads the views synchronously on the store's writer connection (see `view`). */
  readonly view: <A>(what: string, run: (db: ViewReader) => A) => Effect.Effect<A, EventStoreError>
  /** The current version of a stream (0 when it has no events). */
  readonly streamVersion: (stream: string) => Effect.Effect<number, EventStoreError>
  /** The events this request's idempotency key already appended (see `priorEvents`). */
  readonly priorEvents: (meta: EventMeta | undefined) => Effect.Effect<ReadonlyArray<StoredEvent> | undefined, EventStoreError>
}

const conflict = (e: { readonly message: string }) => Effect.fail(new ConcurrentChange({ message: e.message }))

/** The command helpers over `store`. */
export const commandsOf = (store: EventStore["Type"]): Commands => {
  const view = <A>(what: string, run: (db: ViewReader) => A) =>
    Effect.mapError(store.readViews(run), (e) => new EventStoreError({ reason: `could not read ${what}`, cause: e.cause }))
  return {
    appendDecided: (stream, expectedVersion, events, context) =>
      Effect.catchTag(store.append({ stream, expectedVersion, events, actor: context.actor, meta: context.meta }), "StreamVersionConflict", conflict),
    enqueueDecided: (stream, expectedVersion, events, context) =>
      Effect.map(store.enqueue({ stream, expectedVersion, events, actor: context.actor, meta: context.meta }), (wait) =>
        Effect.catchTag(wait, "StreamVersionConflict", conflict)),
    view,
    streamVersion: (stream) =>
      view("a stream version", (db) =>
        db.get<{ version: number }>("SELECT version FROM events WHERE stream = ? ORDER BY version DESC LIMIT 1", [stream])?.version ?? 0),
    priorEvents: (meta) => {
      const key = meta?.idempotency_key
      return key === undefined ? Effect.succeed(undefined) : store.applied(key)
    }
  }
}

/**
 * Runs a command's load → decide → append again when another command on the same stream got
 * there first (ConcurrentChange): for commands that two callers may rightly make at once (two
 * messages to one session, two group members ending together), each decided on fresh state.
 */
export const retryingConflicts = <A, E extends { readonly _tag: string }, R>(command: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.retry(command, { while: (e) => e._tag === "ConcurrentChange", times: 8 })

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

/**
 * Appends nothing waits on, made at once: each is queued in order (so the log keeps the order
 * they were decided in) and commits with whatever comes next; `settle` waits for every one
 * queued so far and fails with the first failure. A unit of work (a chat run, an agent's loop)
 * queues its own progress events and settles before what needs them on the record — its answer,
 * its end — paying for one commit instead of one per event.
 */
export interface Pipeline {
  readonly queue: (
    stream: string,
    expectedVersion: ExpectedVersion,
    events: ReadonlyArray<EventDraft>,
    context: CommandContext
  ) => Effect.Effect<void>
  /** Counts in the wait of an append queued elsewhere (another service's queued event). */
  readonly include: (wait: Effect.Effect<unknown, ConcurrentChange | EventStoreError>) => Effect.Effect<void>
  readonly settle: Effect.Effect<void, ConcurrentChange | EventStoreError>
}

export const pipelineOf = (store: EventStore["Type"]): Pipeline => {
  const waits: Array<Effect.Effect<unknown, ConcurrentChange | EventStoreError>> = []
  const { enqueueDecided } = commandsOf(store)
  return {
    queue: (stream, expectedVersion, events, context) =>
      Effect.map(enqueueDecided(stream, expectedVersion, events, context), (wait) => {
        waits.push(wait)
      }),
    include: (wait) => Effect.sync(() => void waits.push(wait)),
    settle: Effect.suspend(() => awaitEvery(waits.splice(0)))
  }
}

/** Waits for every one of `waits`, even after one failed, then reports the first failure. */
export const awaitEvery = <E>(waits: ReadonlyArray<Effect.Effect<unknown, E>>): Effect.Effect<void, E> =>
  Effect.flatMap(Effect.forEach(waits, (wait) => Effect.exit(wait)), (exits) => {
    const failed = exits.find(Exit.isFailure)
    return failed === undefined ? Effect.void : Effect.failCause(failed.cause)
  })
