import { Context, Effect, Layer } from "effect"
import type { StoredEvent } from "./StoredEvent.js"
import type { ViewDb } from "./ViewDb.js"

/**
 * The hook through which the kernel's projections run inside the append transaction. The
 * store knows nothing of what they do; if `apply` fails, that append is rolled back alone
 * and its caller gets the error. Both run on the engine's ViewDb, so any engine can run them.
 */
export class Projector extends Context.Tag("@annal/store/Projector")<
  Projector,
  {
    /**
     * Creates or migrates view tables before the store starts appending. With `rebuildAll` every
     * view is built again from the log (the store found the views out of step with it). `replay`
     * applies every stored event, in seq order, with the function it is given.
     */
    readonly prepare: (
      db: ViewDb,
      replay: (apply: (event: StoredEvent) => Effect.Effect<void>) => Effect.Effect<void>,
      options: { readonly rebuildAll: boolean }
    ) => Effect.Effect<void>
    /** Applies one committed event to the views. */
    readonly apply: (event: StoredEvent, db: ViewDb) => Effect.Effect<void>
  }
>() {
  /** A projector that keeps no views (for tools that only read the log). */
  static readonly none = Layer.succeed(Projector, { prepare: () => Effect.void, apply: () => Effect.void })
}
