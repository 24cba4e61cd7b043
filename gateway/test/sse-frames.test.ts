/**
 * An event's SSE frame is serialized once however many subscribers send it: the store hands
 * every live subscriber the same event object, and the frame is kept beside it.
 */
import { publicView } from "@annal/kernel"
import type { StoredEvent } from "@annal/store"
import { describe, expect, it } from "vitest"
import { frameOf, framesAfter } from "../src/sse/frames.js"

const event = (seq: number): StoredEvent => ({
  seq,
  id: `0193-${seq}`,
  stream: "config",
  version: seq,
  type: "config_changed",
  actor: "user:api",
  at: "2026-12-05T12:00:00.000Z",
  data: { changed: ["server.port"] },
  meta: { correlation_id: "c-1", idempotency_key: "never sent" },
  prev_hash: "0".repeat(64),
  hash: "a".repeat(64)
})

describe("frameOf", () => {
  it("gives every subscriber the same bytes for one event, serialized once", () => {
    const one = event(7)
    const first = frameOf(one)
    expect(frameOf(one)).toBe(first)
    expect(new TextDecoder().decode(first)).toBe(`id: 7\ndata: ${JSON.stringify(publicView(one))}\n\n`)
    // another event object (read back from the log for a resuming client) gets its own frame
    const again = event(7)
    expect(frameOf(again)).not.toBe(first)
    expect(frameOf(again)).toEqual(first)
  })
})

describe("framesAfter", () => {
  it("joins the frames after a seq that pass the filter into one write, nothing when none does", () => {
    const events = [event(7), { ...event(8), type: "agent_created" }, event(9)]
    const all = framesAfter(events, 0, new Set())
    expect(new TextDecoder().decode(all)).toBe(events.map((e) => new TextDecoder().decode(frameOf(e))).join(""))
    expect(new TextDecoder().decode(framesAfter(events, 7, new Set(["config_changed"])))).toBe(new TextDecoder().decode(frameOf(events[2]!)))
    expect(framesAfter(events, 9, new Set())).toBeUndefined()
    expect(framesAfter(events, 0, new Set(["memory_stored"]))).toBeUndefined()
  })
})
