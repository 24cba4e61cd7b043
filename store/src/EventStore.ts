import { Context, Data, type Effect, type Stream } from "effect"
import type { ChainBreak } from "./Chain.js"
import type { EventDraft, EventMeta, LogHead, StoredEvent } from "./StoredEvent.js"
import type { ViewDb } from "./ViewDb.js"

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

/** A tree size or leaf the log's Merkle tree cannot answer for (beyond the head, out of order). */
export class TreeRangeError extends Data.TaggedError("TreeRangeError")<{ readonly reason: string }> {
  override get message() {
    return this.reason
  }
}

/** The Merkle tree's head: its size (= the log's head seq) and RFC 9162 root, 64 hex digits. */
export interface TreeHead {
  readonly size: number
  readonly root: string
}

/** RFC 9162 inclusion proof of event `seq` (leaf index seq − 1) in the tree of `tree_size`; hashes in hex. */
export interface InclusionProof {
  readonly seq: number
  readonly leaf_index: number
  readonly tree_size: number
  /** SHA-256(0x00 ‖ the event's 32-byte chain hash). */
  readonly leaf_hash: string
  /** The audit path, deepest sibling first. */
  readonly hashes: ReadonlyArray<string>
  /** The root this proof leads to. */
  readonly root: string
}

/** RFC 9162 consistency proof that the tree of `second` leaves extends the tree of `first`. */
export interface ConsistencyProof {
  readonly first: number
  readonly second: number
  readonly first_root: string
  readonly second_root: string
  readonly hashes: ReadonlyArray<string>
}

/** The RFC 9162 Merkle tree over the log in seq order, kept on append; proofs are O(log n) reads. */
export interface LogTree {
  readonly head: Effect.Effect<TreeHead, EventStoreError>
  /** The root of the first `size` events. */
  readonly root: (size: number) => Effect.Effect<string, TreeRangeError | EventStoreError>
  readonly inclusion: (seq: number, treeSize: number) => Effect.Effect<InclusionProof, TreeRangeError | EventStoreError>
  readonly consistency: (first: number, second: number) => Effect.Effect<ConsistencyProof, TreeRangeError | EventStoreError>
  /** The tree size on disk when the store opened (undefined: the log had no tree and it was built). */
  readonly recordedSize: number | undefined
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
  /**
   * A relay that serves clients of its own (the gateway's broadcaster): not counted in
   * `subscriberCount`, which counts the clients where they are served.
   */
  readonly relay?: boolean | undefined
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
    /**
     * Waits until every append queued before it has been decided: committed (durable at the
     * store's `synchronous` level) or failed. The kernel's `beforeEgress` barrier.
     */
    readonly settled: Effect.Effect<void>
    /** Events with fromSeq <= seq <= toSeq, in order. */
    readonly read: (fromSeq: number, toSeq: number) => Effect.Effect<ReadonlyArray<StoredEvent>, EventStoreError>
    /** The events an idempotency key already appended, or undefined when the key is new. */
    readonly applied: (idempotencyKey: string) => Effect.Effect<ReadonlyArray<StoredEvent> | undefined, EventStoreError>
    /** The stream's version: its last event's, 0 when it has none. What a command's append expects. */
    readonly version: (stream: string) => Effect.Effect<number, EventStoreError>
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
    /** The Merkle tree over the log. */
    readonly tree: LogTree
    /**
     * What opening the store repaired, one sentence each: views found out of step with the log
     * (its tail cut or an older copy restored while stopped) are rebuilt from it. Empty normally.
     */
    readonly repairedAtOpen: ReadonlyArray<string>
    /** Runs `f` on the views in one transaction between appends (nothing appends while it runs). */
    readonly withViews: <A>(f: (db: ViewDb) => Effect.Effect<A>) => Effect.Effect<A, EventStoreError>
    /** Live subscribers right now (relays not counted). */
    readonly subscriberCount: Effect.Effect<number>
  }
>() {}
