/** Identifiers the kernel generates before deciding: UUID v7, so ids sort by creation time. */
import { uuidv7 as v7 } from "@annal/store"

/** A new UUID v7, e.g. `01937f2c-8a4e-7b3d-9c1f-2e5a6b7c8d9e` (the store's: pooled randomness, monotonic in this process). */
export const uuidv7 = (): string => v7()

/** A new id for an entity (UUID v7). */
export const newId = uuidv7
