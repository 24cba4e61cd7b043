import { Context, Data, type Effect, type Stream } from "effect"
import type { ChainBreak } from "./Chain.js"
import type { EventDraft, EventMeta, LogHead, StoredEvent } from "./StoredEvent.js"
import type { ViewDb, ViewReader } from "./ViewDb.js"

/** The stream's version the command decided on: a number (0 = the stream must not exist) or "any". */
export type ExpectedVersion = number | "any"

/** One command's events for one stream, appended atomically. */
export interface AppendInput {
  readonly stream: string
  readonly expectedVersion: ExpectedVersion
  readonly events: ReadonlyArray<EventDraft>
  /** Who caused it: `user:<name>`, `agent:<id>`, `program:<name>`, `system`. */
  readonly actor: string
  readonly meta?: EventMeta | undefined
}

/** The stream was not at the version the command decided on. */
export class StreamVersionConflict extends Data.TaggedError("StreamVersionConflict")<{
  readonly stream: string
  readonly expected: ExpectedVersion
  readonly actual: number
}> {
  override get message() {
    return `stream ${this.stream} is at version ${this.actual}, not ${this.expected}`
  }
}

/** The store could not do what was asked (I/O, a bad event, a projection that threw). */
export class EventStoreError extends Data.TaggedError("EventStoreError")<{
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message() {
    return this.reason
  }
}

/** A live subscriber fell further behind than its buffer holds and was disconnected. */
export class SubscriberOverflow extends Data.TaggedError("SubscriberOverflow")<{
  /** The last seq the subscriber received; resume after it. */
  readonly lastSeq: number
  readonly capacity: number
}> {
  override get message() {
    return `subscriber fell more than ${this.capacity} events behind after seq ${this.lastSeq}`
  }
}

/** What `verify` finds: the whole chain links, or the first break. */
export type VerifyResult =
  | { readonly valid: true; readonly entry_count: number; readonly head: LogHead }
  | ({ readonly valid: false; readonly entry_count: number } & ChainBreak)

export interface TailOptions {
  /** Live events buffered for this subscriber before it is cut off. */
  readonly buffer?: number | undefined
  /**
   * Called the moment the subscriber is cut off for falling behind (its stream still delivers
   * what was queued before failing with SubscriberOverflow), e.g. to bound how long a client that
   * stopped reading may hold its connection.
   */
  readonly onCut?: (() => void) | undefined
}

/** The append-only, hash-chained log of every action. */
export class EventStore extends Context.Tag("@annal/store/EventStore")<
  EventStore,
  {
    /** Appends one command's events atomically (with their projections); returns them committed. */
    readonly append: (input: AppendInput) => Effect.Effect<ReadonlyArray<StoredEvent>, StreamVersionConflict | EventStoreError>
    /**
     * Queues an append at once and returns the wait for its commit. Appends are decided in the
     * order they were queued, so once a later append has committed this one has been decided too
     * (committed, or failed: its wait says which): a command can queue several appends and wait
     * for the last, paying for one commit instead of one each.
     */
    readonly enqueue: (
      input: AppendInput
    ) => Effect.Effect<Effect.Effect<ReadonlyArray<StoredEvent>, StreamVersionConflict | EventStoreError>>
    /** Events with fromSeq <= seq <= toSeq, in order. */
    readonly read: (fromSeq: number, toSeq: number) => Effect.Effect<ReadonlyArray<StoredEvent>, EventStoreError>
    /** The events an idempotency key already appended, or undefined when the key is new. */
    readonly applied: (idempotencyKey: string) => Effect.Effect<ReadonlyArray<StoredEvent> | undefined, EventStoreError>
    /** Every event of one stream, in version order. */
    readonly readStream: (stream: string) => Effect.Effect<ReadonlyArray<StoredEvent>, EventStoreError>
    /** All events after `afterSeq`, page by page, without holding the log in memory. */
    readonly readAll: (afterSeq: number, pageSize?: number) => Stream.Stream<StoredEvent, EventStoreError>
    /** Events after `afterSeq`: the stored ones, then live ones as they commit, without a gap or duplicate. */
    readonly tail: (afterSeq: number, options?: TailOptions) => Stream.Stream<StoredEvent, SubscriberOverflow | EventStoreError>
    /** The last committed event's position. */
    readonly head: Effect.Effect<LogHead>
    /** Walks the whole chain and reports the first break. */
    readonly verify: Effect.Effect<VerifyResult, EventStoreError>
    /** Runs `f` on the writer connection, in one transaction, between appends. */
    readonly withViews: <A>(f: (db: ViewDb) => A) => Effect.Effect<A, EventStoreError>
    /**
     * Reads the views (or the log) at once on the writer connection, between appends: what every
     * committed append left, without a round trip through the SQL client or the writer's queue.
     */
    readonly readViews: <A>(f: (db: ViewReader) => A) => Effect.Effect<A, EventStoreError>
    /** Live subscribers right now. */
    readonly subscriberCount: Effect.Effect<number>
  }
>() {}
