/**
 * The one commit rule (docs/event-log.md): a command appends its events and waits for their
 * commit — the store's group commit puts appends made at the same time into one transaction —
 * and nothing leaves the process before the events it depends on are durable. `beforeEgress` is
 * that guarantee, written once: a model request, a tool's execution, a question to a person and
 * an answer over HTTP or WebSocket pass it first. It waits until every append queued before it,
 * by any fiber, has been decided; a caller's own appends, awaited, are decided already.
 */
import type { EventStore } from "@annal/store"
import type { Effect } from "effect"

/** Waits until every append queued so far has committed (or failed), before something leaves the process. */
export const beforeEgress = (store: EventStore["Type"]): Effect.Effect<void> => store.settled
