/**
 * Run once per key: the first caller of a key runs its effect; a caller of the same key while
 * that run is held joins it (the same success or failure) instead of running it again. A run is
 * held until it fails, or after it succeeds until `holdUntil(result)` ends (at once without
 * one): e.g. until what it started is on the record, where a later caller finds it without this.
 *
 * The orchestrator joins a retried keyed chat request to the run the first attempt started.
 */
import { Deferred, Effect, Exit, FiberId } from "effect"

export interface RunOnce<K, A, E> {
  /** `effect`'s result for `key`: run now, or joined from the run of `key` that is held. */
  readonly run: <R>(key: K, effect: Effect.Effect<A, E, R>, holdUntil?: (a: A) => Effect.Effect<unknown, unknown>) => Effect.Effect<A, E, R>
  /** The keys held now. */
  readonly held: Effect.Effect<ReadonlyArray<K>>
}

/** An empty set of runs. */
export const make = <K, A, E>(): RunOnce<K, A, E> => {
  const runs = new Map<K, Deferred.Deferred<A, E>>()
  const run = <R>(key: K, effect: Effect.Effect<A, E, R>, holdUntil?: (a: A) => Effect.Effect<unknown, unknown>): Effect.Effect<A, E, R> =>
    Effect.suspend(() => {
      // look and claim in one synchronous step: no other fiber runs between them
      const first = runs.get(key)
      if (first !== undefined) return Deferred.await(first)
      const mine = Deferred.unsafeMake<A, E>(FiberId.none)
      runs.set(key, mine)
      const release = Effect.sync(() => {
        if (runs.get(key) === mine) runs.delete(key)
      })
      return Effect.onExit(effect, (exit) =>
        Effect.zipRight(
          Deferred.done(mine, exit),
          Exit.isSuccess(exit) && holdUntil !== undefined ? Effect.forkDaemon(Effect.ensuring(Effect.ignore(holdUntil(exit.value)), release)) : release
        ))
    })
  return { run, held: Effect.sync(() => [...runs.keys()]) }
}
