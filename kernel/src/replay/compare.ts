/**
 * Comparing what a replay produced with what the record holds, event by event: per stream, in
 * stream order (agents of a group run in parallel, so the log's interleaving of their streams
 * may differ; each stream's own order may not), the type, the stream, the actor and the data
 * must be equal — with two allowances, both "taken from the record":
 *
 * - **ids**: an id the replay made (a UUID from its IdGenerator) stands for the id the record
 *   has in its place, one to one: the first time it meets a recorded one they are paired, and
 *   from then on each must meet only the other; any other id (the session's, a seed's from
 *   before the run) must be the record's own;
 * - **times**: an ISO-8601 time, and a `duration_ms`, read from the clock, are equal when both
 *   are times (durations).
 *
 * The first difference is the recorded event with the lowest seq that has no equal in the
 * replay (or, when every recorded event has one, the first replayed event left over).
 */
import type { StoredEvent } from "@annal/store"

/** The answer: identical, or the first difference with both sides (null: that side has none). */
export type Comparison =
  | { readonly result: "identical"; readonly events: number }
  | {
    readonly result: "different"
    /** The recorded event's seq (for an event only the replay has: the seq it was given in the scratch log). */
    readonly seq: number
    readonly expected: ComparedEvent | null
    readonly actual: ComparedEvent | null
  }

/** What of an event is compared. */
export interface ComparedEvent {
  readonly type: string
  readonly stream: string
  readonly actor: string
  readonly data: Readonly<Record<string, unknown>>
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

const compared = (e: StoredEvent): ComparedEvent => ({ type: e.type, stream: e.stream, actor: e.actor, data: e.data })

/** A one-to-one pairing of recorded and replayed ids, with an undo log for a trial that fails. */
class Pairing {
  private readonly forward = new Map<string, string>()
  private readonly backward = new Map<string, string>()
  private trail: Array<string> = []

  constructor(private readonly made: (id: string) => boolean) {}

  pair(recorded: string, replayed: string): boolean {
    if (!this.made(replayed) && recorded !== replayed) return false
    const known = this.forward.get(recorded)
    if (known !== undefined) return known === replayed
    if (this.backward.has(replayed)) return false
    this.forward.set(recorded, replayed)
    this.backward.set(replayed, recorded)
    this.trail.push(recorded)
    return true
  }

  /** Runs `test`; the pairs it made stay only when it holds. */
  attempt(test: () => boolean): boolean {
    const mark = this.trail.length
    if (test()) return true
    for (const recorded of this.trail.splice(mark)) {
      this.backward.delete(this.forward.get(recorded)!)
      this.forward.delete(recorded)
    }
    return false
  }
}

const equalText = (pairing: Pairing, recorded: string, replayed: string): boolean => {
  if (recorded === replayed) {
    // an id both have is the same id: it may pair with nothing else
    for (const id of recorded.match(UUID) ?? []) if (!pairing.pair(id.toLowerCase(), id.toLowerCase())) return false
    return true
  }
  if (ISO_TIME.test(recorded) && ISO_TIME.test(replayed)) return true
  const recordedIds = recorded.match(UUID) ?? []
  const replayedIds = replayed.match(UUID) ?? []
  if (recordedIds.length === 0 || recordedIds.length !== replayedIds.length) return false
  if (recorded.split(UUID).join("\u0000") !== replayed.split(UUID).join("\u0000")) return false
  return recordedIds.every((id, i) => pairing.pair(id.toLowerCase(), replayedIds[i]!.toLowerCase()))
}

const equalValue = (pairing: Pairing, recorded: unknown, replayed: unknown, key?: string): boolean => {
  if (key === "duration_ms" && typeof recorded === "number" && typeof replayed === "number") return true
  if (typeof recorded === "string" && typeof replayed === "string") return equalText(pairing, recorded, replayed)
  if (Array.isArray(recorded) || Array.isArray(replayed)) {
    return Array.isArray(recorded) && Array.isArray(replayed) && recorded.length === replayed.length &&
      recorded.every((r, i) => equalValue(pairing, r, replayed[i]))
  }
  if (typeof recorded === "object" && recorded !== null && typeof replayed === "object" && replayed !== null) {
    const r = recorded as Record<string, unknown>
    const a = replayed as Record<string, unknown>
    const keys = Object.keys(r).sort()
    const otherKeys = Object.keys(a).sort()
    return keys.length === otherKeys.length && keys.every((k, i) => k === otherKeys[i] && equalValue(pairing, r[k], a[k], k))
  }
  return recorded === replayed
}

const equalEvent = (pairing: Pairing, recorded: StoredEvent, replayed: StoredEvent) =>
  pairing.attempt(() => recorded.type === replayed.type && equalValue(pairing, compared(recorded), compared(replayed)))

const byStream = (events: ReadonlyArray<StoredEvent>) => {
  const streams = new Map<string, Array<StoredEvent>>()
  for (const e of events) {
    const list = streams.get(e.stream)
    if (list === undefined) streams.set(e.stream, [e])
    else list.push(e)
  }
  return streams
}

/** Compares the replay's events with the record's (each side in seq order); `made` holds the ids the replay made. */
export const compareRuns = (recorded: ReadonlyArray<StoredEvent>, replayed: ReadonlyArray<StoredEvent>, made: ReadonlySet<string>): Comparison => {
  const pairing = new Pairing((id) => made.has(id))
  const replayedStreams = byStream(replayed)
  // recorded stream → the replayed stream it pairs with
  const streamOf = new Map<string, string>()
  const taken = new Set<string>()
  const position = new Map<string, number>()
  const different = (e: StoredEvent, actual: StoredEvent | undefined): Comparison => ({
    result: "different",
    seq: e.seq,
    expected: compared(e),
    actual: actual === undefined ? null : compared(actual)
  })
  for (const e of recorded) {
    const index = position.get(e.stream) ?? 0
    position.set(e.stream, index + 1)
    let stream = streamOf.get(e.stream)
    if (stream === undefined) {
      // the first replayed stream not yet paired whose event at this place equals this one
      for (const [name, events] of replayedStreams) {
        if (taken.has(name)) continue
        const candidate = events[index]
        if (candidate !== undefined && equalEvent(pairing, e, candidate)) {
          stream = name
          break
        }
      }
      if (stream === undefined) {
        // no equal: show the replayed event of the stream it names, when it can be told
        const guess = [...replayedStreams.entries()].find(([name]) => !taken.has(name) && name.replace(UUID, "") === e.stream.replace(UUID, ""))
        return different(e, guess?.[1][index])
      }
      streamOf.set(e.stream, stream)
      taken.add(stream)
      continue
    }
    const actual = replayedStreams.get(stream)![index]
    if (actual === undefined || !equalEvent(pairing, e, actual)) return different(e, actual)
  }
  // what only the replay has
  const extra = replayed.find((a) => {
    const recordedStream = [...streamOf.entries()].find(([, name]) => name === a.stream)?.[0]
    if (recordedStream === undefined) return true
    return replayedStreams.get(a.stream)!.indexOf(a) >= (position.get(recordedStream) ?? 0)
  })
  if (extra !== undefined) return { result: "different", seq: extra.seq, expected: null, actual: compared(extra) }
  return { result: "identical", events: recorded.length }
}
