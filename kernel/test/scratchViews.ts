/** Applies events to a projection's tables in a scratch SQLite database, without a store: evolve, tested directly. */
import { Projection } from "@annal/kernel"
import { openScratch, runNow, type SqlParams, type StoredEvent } from "@annal/store"

export interface ScratchViews {
  /** The tables, read at once (SQLite completes a ViewDb's Effects synchronously). */
  readonly db: {
    readonly get: <A = Record<string, unknown>>(sql: string, params?: SqlParams) => A | undefined
    readonly all: <A = Record<string, unknown>>(sql: string, params?: SqlParams) => Array<A>
  }
  /** Applies one event (seq and time advance by one each call); returns it. */
  readonly apply: (type: string, data: Record<string, unknown>, stream?: string) => StoredEvent
  readonly close: () => void
}

/** Scratch views of one projection, events stamped 2026-01-01T00:00:<seq>Z. */
export const scratchViews = (projection: Projection.Projection): ScratchViews => {
  const scratch = openScratch()
  for (const t of projection.tables) runNow(scratch.db.exec(Projection.ddlOn(t, scratch.db.engine)))
  let seq = 0
  return {
    db: {
      get: <A>(sql: string, params?: SqlParams) => runNow(scratch.db.get<A>(sql, params)),
      all: <A>(sql: string, params?: SqlParams) => runNow(scratch.db.all<A>(sql, params))
    },
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
      if (projection.handles.includes(type)) runNow(projection.apply(event, scratch.db))
      return event
    },
    close: scratch.close
  }
}
