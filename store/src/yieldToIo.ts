import { Effect } from "effect"

/**
 * Waits until the event loop has run what is ready now — other fibers up to their next wait, I/O
 * callbacks — and comes back in its check phase (`setImmediate`). Work that nothing waits on at
 * once (a group commit, a write's git commit) yields here first, so that what others were about
 * to start (a request to a model, a reply) goes out before it and overlaps with it.
 */
export const yieldToIo: Effect.Effect<void> = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})
