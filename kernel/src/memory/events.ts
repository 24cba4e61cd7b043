/** The memory context's events: a memory stored, deleted, or returned by a search. */
import { MemoryType, MemoryTypeFilter } from "@annal/spec"
import { Schema } from "effect"

export const MEMORY_STORED = "memory_stored"
export const MEMORY_DELETED = "memory_deleted"
export const MEMORY_RECALLED = "memory_recalled"

/** A memory was stored; its `created_at` is the event's `at`. */
export const MemoryStored = Schema.Struct({
  id: Schema.String,
  memory_type: MemoryType,
  content: Schema.String,
  tags: Schema.Array(Schema.String),
  importance: Schema.Number
})
export type MemoryStored = typeof MemoryStored.Type

/** A memory was deleted: it leaves both searches (the log keeps what it said). */
export const MemoryDeleted = Schema.Struct({ id: Schema.String })
export type MemoryDeleted = typeof MemoryDeleted.Type

/**
 * A search returned memories. The query itself is not recorded (it can be as private as the
 * memories); its sha256 and length are, so repeated queries can be recognised.
 */
export const MemoryRecalled = Schema.Struct({
  mode: Schema.Literal("keyword", "semantic"),
  memory_type: Schema.NullOr(MemoryTypeFilter),
  query_sha256: Schema.String,
  query_length: Schema.Number,
  memory_ids: Schema.Array(Schema.String),
  count: Schema.Number
})
export type MemoryRecalled = typeof MemoryRecalled.Type

/** The stream of one memory. */
export const memoryStream = (id: string) => `memory-${id}`

/** The stream recalls are appended to. */
export const RECALL_STREAM = "memory-recalls"

/** Event types the semantic index follows. */
export const INDEXED_TYPES: ReadonlyArray<string> = [MEMORY_STORED, MEMORY_DELETED]
