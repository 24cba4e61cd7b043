/** Applies events to a projection's tables in a scratch SQLite database, without a store: evolve, tested directly. */
import type { Projection } from "@annal/kernel"
import { openScratch, type StoredEvent, type ViewDb } from "@annal/store"

export interface ScratchViews {
  readonly db: ViewDb
  /** Applies one event (seq and time advance by one each call); returns it. */
  readonly apply: (type: string, data: Record<string, unknown>, stream?: string) => StoredEvent
  readonly close: () => void
}

/** Scratch views of one projection, events stamped 2026-01-01T00:00:<seq>Z. */
export const scratchViews = (projection: Projection.Projection): ScratchViews => {
  const scratch = openScratch()
  for (const t of projection.tables) scratch.db.exec(t.ddl)
  let seq = 0
  return {
    db: scratch.db,
    apply: (type, data, stream = "test") => {
      seq++
      const event: StoredEvent = {
        seq,
        id: `event-${seq}`,
        stream,
        version: seq,
        type,
        actor: "system",
        at: `2026-01-01T00:00:${String(seq).padStart(2, "0")}.000Z`,
        data,
        meta: {},
        prev_hash: "",
        hash: ""
      }
      if (projection.handles.includes(type)) projection.apply(event, scratch.db)
      return event
    },
    close: scratch.close
  }
}
