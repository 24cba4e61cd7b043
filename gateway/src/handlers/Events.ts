/**
 * `GET /api/events`: Server-Sent Events of the log. Frames are `id: <seq>` and `data: <json>`
 * (no `event:` line, so `EventSource.onmessage` fires), a comment ping every
 * `events.ping_interval_secs`, resume with `Last-Event-ID`, `?types=a,b` to filter. The
 * server's one broadcaster writes the events to the response (`sse/Broadcaster.ts`); a client
 * that falls behind its buffer is cut off and resumes from its last id.
 */
import { HttpApiBuilder, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Configuration, EventBus } from "@annal/kernel"
import { AnnalApi, BadRequest } from "@annal/spec"
import { Duration, Effect, Stream } from "effect"
import { Broadcaster } from "../sse/Broadcaster.js"
import { parseLastEventId, parseTypes } from "../sse/frames.js"

export const EventsLive = HttpApiBuilder.group(AnnalApi, "events", (handlers) =>
  Effect.gen(function*() {
    const bus = yield* EventBus
    const config = yield* Configuration
    const broadcaster = yield* Broadcaster
    return handlers.handleRaw("events", ({ urlParams }) =>
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const lastId = parseLastEventId(request.headers["last-event-id"])
        if (lastId === "invalid") return yield* new BadRequest({ error: "Last-Event-ID must be an event seq (a non-negative integer)" })
        // Without Last-Event-ID a client gets what happens from now on; an id past the head
        // (say from a data directory since reset) reads as the head.
        const head = yield* bus.head
        const after = lastId === undefined ? head : Math.min(lastId, head)
        const { events: settings } = yield* config.current
        // The body is written by the broadcaster straight to the response once its head is out:
        // this stream emits nothing and ends when the connection does (the platform then ends
        // the response; a client leaving interrupts it).
        const body = Stream.fromEffect(
          broadcaster.serve({
            response: NodeHttpServerRequest.toServerResponse(request),
            afterSeq: after,
            types: parseTypes(urlParams.types),
            capacity: settings.subscriber_buffer,
            pingInterval: Duration.seconds(settings.ping_interval_secs),
            cutGrace: Duration.seconds(settings.cut_grace_secs)
          })
        ).pipe(Stream.drain)
        return HttpServerResponse.stream(body, {
          contentType: "text/event-stream",
          headers: { "cache-control": "no-cache", "x-accel-buffering": "no", connection: "keep-alive" }
        })
      }))
  }))
