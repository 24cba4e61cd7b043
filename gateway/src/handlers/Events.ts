/**
 * `GET /api/events`: Server-Sent Events of the log. Frames are `id: <seq>` and `data: <json>`
 * (no `event:` line, so `EventSource.onmessage` fires), a comment ping every
 * `events.ping_interval_secs`, resume with `Last-Event-ID`, `?types=a,b` to filter. A client
 * that falls behind its buffer is cut off and resumes from its last id.
 */
import { HttpApiBuilder, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Configuration, EventBus, publicView } from "@annal/kernel"
import { AnnalApi, BadRequest } from "@annal/spec"
import type { StoredEvent } from "@annal/store"
import { Duration, Effect, Fiber, Option, Schedule, Stream } from "effect"

/** Parses `Last-Event-ID`: a seq, or undefined when absent. */
export const parseLastEventId = (header: string | undefined): number | undefined | "invalid" => {
  if (header === undefined || header.trim() === "") return undefined
  return /^\d{1,15}$/.test(header.trim()) ? Number(header.trim()) : "invalid"
}

/** Parses `?types=a,b` into a set (empty = all). */
export const parseTypes = (param: string | undefined): ReadonlySet<string> =>
  new Set((param ?? "").split(",").map((t) => t.trim()).filter((t) => t !== ""))

const encoder = new TextEncoder()
const text = (frame: string) => encoder.encode(frame)

/**
 * An event's SSE frame, serialized and encoded once: the store hands every live subscriber the
 * same event object, so a thousand subscribers cost one `JSON.stringify`, not a thousand.
 */
const frames = new WeakMap<StoredEvent, Uint8Array>()
export const frameOf = (event: StoredEvent): Uint8Array => {
  let frame = frames.get(event)
  if (frame === undefined) {
    frame = text(`id: ${event.seq}\ndata: ${JSON.stringify(publicView(event))}\n\n`)
    frames.set(event, frame)
  }
  return frame
}

export const EventsLive = HttpApiBuilder.group(AnnalApi, "events", (handlers) =>
  Effect.gen(function*() {
    const bus = yield* EventBus
    const config = yield* Configuration
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
        // A client cut off for falling behind gets `events.cut_grace_secs` to read what was queued
        // and its goodbye; one that never reads again is then disconnected instead of holding its
        // socket and buffers forever.
        const writer = Option.getOrUndefined(Fiber.getCurrentFiber())
        const socket = NodeHttpServerRequest.toIncomingMessage(request).socket
        const response = NodeHttpServerRequest.toServerResponse(request)
        const onCut = () =>
          void Effect.runFork(
            Effect.sleep(Duration.seconds(settings.cut_grace_secs)).pipe(
              // ending the response would wait for the client to read; the socket must go
              // (unless this response finished: a kept-alive socket may carry another request now)
              Effect.zipRight(Effect.sync(() => response.writableFinished || socket.destroy())),
              Effect.zipRight(writer === undefined ? Effect.void : Fiber.interrupt(writer))
            )
          )
        const events = bus.subscribe({ afterSeq: after, types: parseTypes(urlParams.types), onCut }).pipe(
          Stream.map(frameOf),
          Stream.catchTag("SubscriberOverflow", (e) => Stream.make(text(`: too far behind; reconnect with Last-Event-ID: ${e.lastSeq}\n\n`))),
          Stream.catchAll((e) => Stream.make(text(`: stream failed: ${e.message}\n\n`)))
        )
        const pings = Stream.fromSchedule(Schedule.spaced(Duration.seconds(settings.ping_interval_secs))).pipe(
          Stream.map(() => text(": ping\n\n"))
        )
        const body = Stream.concat(Stream.make(text("retry: 1000\n\n")), Stream.merge(events, pings, { haltStrategy: "left" }))
        return HttpServerResponse.stream(body, {
          contentType: "text/event-stream",
          headers: { "cache-control": "no-cache", "x-accel-buffering": "no", connection: "keep-alive" }
        })
      }))
  }))
