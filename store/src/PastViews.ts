/**
 * Past views: every view as it stood right after event N (`?at_seq=N`, `annal views --at N`).
 * An engine builds them (PastViewsSqlite for SQLite); a request then runs inside
 * `readingAt(past)` and every service answers from them in its usual shape.
 */
import { Context, Data, type Effect } from "effect"
import type { EventStoreError } from "./EventStore.js"
import type { PastView } from "./ReadingAt.js"

/** Asked for a seq the log has not reached. */
export class BeyondHead extends Data.TaggedError("BeyondHead")<{ readonly seq: number; readonly head: number }> {
  override get message() {
    return `at_seq ${this.seq} is beyond the log's head (seq ${this.head})`
  }
}

export class PastViews extends Context.Tag("@annal/store/PastViews")<
  PastViews,
  {
    /** The views as they stood right after event `seq` (0: before the first event). */
    readonly at: (seq: number) => Effect.Effect<PastView, BeyondHead | EventStoreError>
    /** Writes every view as of `seq` into a new SQLite file; says how many events it replayed, from which snapshot. */
    readonly writeAt: (
      seq: number,
      file: string
    ) => Effect.Effect<{ readonly replayed: number; readonly from: number }, BeyondHead | EventStoreError>
  }
>() {}
