/**
 * The bus: committed events for live subscribers (SSE, WebSocket, internal consumers). Each
 * subscriber has its own bounded buffer; one that falls behind is cut off with the seq to
 * resume from, and resumes out of SQLite. Nothing is dropped silently.
 */
import { EventStore, type EventStoreError, type StoredEvent, type SubscriberOverflow } from "@annal/store"
import { Context, Effect, Layer, Stream } from "effect"
import { Configuration } from "../config/Configuration.js"

export interface SubscribeOptions {
  /** Deliver events after this seq (0 = from the beginning). */
  readonly afterSeq: number
  /** Only these event types (all when absent). */
  readonly types?: ReadonlySet<string> | undefined
  /** Live buffer; defaults to `events.subscriber_buffer`. */
  readonly buffer?: number | undefined
  /** Called the moment the subscriber is cut off for falling behind. */
  readonly onCut?: (() => void) | undefined
  /** A relay serving clients of its own (the gateway's broadcaster): not counted in `subscribers`. */
  readonly relay?: boolean | undefined
}

export class EventBus extends Context.Tag("@annal/kernel/EventBus")<
  EventBus,
  {
    readonly subscribe: (options: SubscribeOptions) => Stream.Stream<StoredEvent, SubscriberOverflow | EventStoreError>
    /** Live subscribers (relays not counted: they count their own clients). */
    readonly subscribers: Effect.Effect<number>
    readonly head: Effect.Effect<number>
  }
>() {
  static readonly layer = Layer.effect(
    EventBus,
    Effect.gen(function*() {
      const store = yield* EventStore
      const config = yield* Configuration
      return EventBus.of({
        subscribe: (options) =>
          Stream.unwrap(
            Effect.map(config.current, (c) => {
              const stream = store.tail(options.afterSeq, {
                buffer: options.buffer ?? c.events.subscriber_buffer,
                onCut: options.onCut,
                relay: options.relay
              })
              const types = options.types
              return types === undefined || types.size === 0 ? stream : Stream.filter(stream, (e) => types.has(e.type))
            })
          ),
        subscribers: store.subscriberCount,
        head: Effect.map(store.head, (h) => h.seq)
      })
    })
  )
}
