/**
 * The bytes of `GET /api/events`: an event's frame (`id: <seq>` and `data: <json>`, no `event:`
 * line, so `EventSource.onmessage` fires), the comments, and the request's resume and filter
 * parameters.
 */
import { publicView } from "@annal/kernel"
import type { StoredEvent } from "@annal/store"

/** Parses `Last-Event-ID`: a seq, or undefined when absent. */
export const parseLastEventId = (header: string | undefined): number | undefined | "invalid" => {
  if (header === undefined || header.trim() === "") return undefined
  return /^\d{1,15}$/.test(header.trim()) ? Number(header.trim()) : "invalid"
}

/** Parses `?types=a,b` into a set (empty = all). */
export const parseTypes = (param: string | undefined): ReadonlySet<string> =>
  new Set((param ?? "").split(",").map((t) => t.trim()).filter((t) => t !== ""))

const encoder = new TextEncoder()

/** The first bytes of every stream: EventSource waits a second before reconnecting. */
export const RETRY = encoder.encode("retry: 1000\n\n")

/** The keep-alive comment. */
export const PING = encoder.encode(": ping\n\n")

/** The last frame of a stream cut off for falling behind: where to resume. */
export const tooFarBehind = (lastSeq: number): Uint8Array =>
  encoder.encode(`: too far behind; reconnect with Last-Event-ID: ${lastSeq}\n\n`)

/** The last frame of a stream whose events could not be read. */
export const streamFailed = (message: string): Uint8Array => encoder.encode(`: stream failed: ${message.replace(/\n/g, " ")}\n\n`)

/**
 * An event's SSE frame, serialized and encoded once: the bus hands the broadcaster each event
 * object once, so a thousand subscribers cost one `JSON.stringify`, not a thousand.
 */
const frames = new WeakMap<StoredEvent, Uint8Array>()
export const frameOf = (event: StoredEvent): Uint8Array => {
  let frame = frames.get(event)
  if (frame === undefined) {
    frame = encoder.encode(`id: ${event.seq}\ndata: ${JSON.stringify(publicView(event))}\n\n`)
    frames.set(event, frame)
  }
  return frame
}

/** Whether a stream with this filter sends the event (an empty filter sends all). */
export const wanted = (types: ReadonlySet<string>, event: StoredEvent): boolean => types.size === 0 || types.has(event.type)

/** The frames of the events after `afterSeq` that pass the filter, as one write; undefined when none does. */
export const framesAfter = (events: ReadonlyArray<StoredEvent>, afterSeq: number, types: ReadonlySet<string>): Uint8Array | undefined => {
  const parts: Array<Uint8Array> = []
  for (const event of events) if (event.seq > afterSeq && wanted(types, event)) parts.push(frameOf(event))
  return parts.length === 0 ? undefined : parts.length === 1 ? parts[0] : Buffer.concat(parts)
}
