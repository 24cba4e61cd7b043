/**
 * The events a request's `Idempotency-Key` already appended. The store answers a repeated key
 * with the first events, but a command that decides before appending (a create of a name that
 * now exists, a delete of what is now gone) would refuse the retry; it asks here first.
 */
import { type EventMeta, EventStore, type EventStoreError, type StoredEvent } from "@annal/store"
import { Effect } from "effect"

/** The events appended under this request's idempotency key, or undefined when it has none or is new. */
export const priorEvents = (
  meta: EventMeta | undefined
): Effect.Effect<ReadonlyArray<StoredEvent> | undefined, EventStoreError, EventStore> => {
  const key = meta?.idempotency_key
  if (key === undefined) return Effect.succeed(undefined)
  return Effect.flatMap(EventStore, (store) => store.applied(key))
}
