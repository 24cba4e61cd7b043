/**
 * A persistent approximate-nearest-neighbour index of vectors under string keys. The store
 * keeps the file and its sidecar; what the vectors mean, and which log position they reflect,
 * is the caller's (kept in the sidecar's opaque `meta`).
 */
import { Context, Data, type Effect } from "effect"
import type { JsonObject } from "./StoredEvent.js"

/** How distance is measured: `cosine` gives 1 - cos(a, b). */
export type VectorSpace = "cosine" | "l2" | "ip"

/** What shapes an index; an index saved with other parameters is not loaded. */
export interface VectorIndexParams {
  readonly dimension: number
  readonly space: VectorSpace
  /** Links per node (HNSW `M`). */
  readonly m: number
  /** Candidate list while building (HNSW `efConstruction`). */
  readonly efConstruction: number
  /** Seed of the level generator, so the same inserts build the same graph. */
  readonly seed?: number | undefined
}

export interface VectorIndexOpenOptions extends VectorIndexParams {
  /** The index file; the sidecar is `<path>.json`. */
  readonly path: string
  /** Room reserved at first; the index grows by doubling before it would overflow. */
  readonly initialCapacity?: number | undefined
}

export interface VectorHit {
  readonly key: string
  readonly distance: number
}

export interface VectorSearchOptions {
  /** Candidate list while searching (HNSW `ef`); at least `k` is used. */
  readonly ef?: number | undefined
  /** Only keys for which this returns true are results (checked inside the graph walk). */
  readonly filter?: ((key: string) => boolean) | undefined
}

/** An open index. Not thread-safe: the caller serialises changes (JavaScript's one thread does). */
export interface VectorIndexHandle {
  readonly params: VectorIndexParams
  /** Live (not deleted) vectors. */
  readonly size: () => number
  readonly has: (key: string) => boolean
  /** Adds vectors, replacing the vector of a key already present. */
  readonly addAll: (
    entries: ReadonlyArray<{ readonly key: string; readonly vector: ArrayLike<number> }>
  ) => Effect.Effect<void, VectorIndexError>
  /** Deletes a key; false when it was not there. */
  readonly remove: (key: string) => Effect.Effect<boolean, VectorIndexError>
  /** The `k` nearest live vectors, nearest first. */
  readonly search: (
    vector: ArrayLike<number>,
    k: number,
    options?: VectorSearchOptions
  ) => Effect.Effect<ReadonlyArray<VectorHit>, VectorIndexError>
  /** Empties the index (same parameters). */
  readonly clear: Effect.Effect<void, VectorIndexError>
  /** Writes the index and its sidecar (with `meta`) atomically enough to detect a torn write. */
  readonly save: (meta: JsonObject) => Effect.Effect<void, VectorIndexError>
}

export interface OpenedVectorIndex {
  readonly index: VectorIndexHandle
  /** True when the saved index was loaded; false when it starts empty. */
  readonly loaded: boolean
  /** The `meta` saved with the loaded index. */
  readonly meta: JsonObject | undefined
  /** Why the index starts empty (missing, unreadable, parameters changed), or "loaded". */
  readonly reason: string
}

/** The index could not be read, written or used. */
export class VectorIndexError extends Data.TaggedError("VectorIndexError")<{
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message() {
    return this.reason
  }
}

export class VectorIndex extends Context.Tag("@annal/store/VectorIndex")<
  VectorIndex,
  {
    /** Loads the index saved at `path` when it matches `params`; otherwise starts an empty one. */
    readonly open: (options: VectorIndexOpenOptions) => Effect.Effect<OpenedVectorIndex, VectorIndexError>
    /**
     * The `k` of `entries` nearest `vector` by an exhaustive comparison with the same distance an
     * index of `space` measures: exact where the graph is approximate, for sets too small or too
     * short-lived to index (a search of the memories as they were at a past seq).
     */
    readonly exactSearch: (
      space: VectorSpace,
      entries: ReadonlyArray<{ readonly key: string; readonly vector: ArrayLike<number> }>,
      vector: ArrayLike<number>,
      k: number
    ) => Effect.Effect<ReadonlyArray<VectorHit>, VectorIndexError>
  }
>() {}
