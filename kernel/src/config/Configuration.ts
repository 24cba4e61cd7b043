/**
 * The configuration service: the current config, read from its view at start, changed only by
 * appending `config_changed`, and pushed to whoever watches it so changes apply without restart.
 */
import { SqlClient } from "@effect/sql"
import { type AnnalConfig, type ConfigDocument, type ConfigPatch, defaultConfig } from "@annal/spec"
import { EventStore, type EventMeta, EventStoreError, ReadingAt, StreamVersionConflict } from "@annal/store"
import { Context, Data, Effect, Either, FiberRef, Layer, Stream, SubscriptionRef } from "effect"
import { commandsOf } from "../shared/Command.js"
import { type ConfigState, decideUpdate, documentOf, usableConfig } from "./decide.js"
import { CONFIG_CHANGED, CONFIG_STREAM } from "./events.js"
import { ConfigRow } from "./projection.js"

/** The patch leaves the configuration invalid; the message names the field. */
export class ConfigInvalid extends Data.TaggedError("ConfigInvalid")<{ readonly message: string }> {}

/** Someone else changed the configuration at the same moment. */
export class ConfigConflict extends Data.TaggedError("ConfigConflict")<{ readonly message: string }> {}

export class Configuration extends Context.Tag("@annal/kernel/Configuration")<
  Configuration,
  {
    readonly current: Effect.Effect<AnnalConfig>
    /** The configuration with the keys Annal does not know that clients stored (what GET shows). */
    readonly document: Effect.Effect<ConfigDocument, EventStoreError>
    readonly state: Effect.Effect<ConfigState>
    /** Stored settings that could not be used at start and were replaced by their defaults. */
    readonly repairedAtStart: ReadonlyArray<string>
    /** The current config, then every change. */
    readonly changes: Stream.Stream<AnnalConfig>
    readonly update: (
      patch: ConfigPatch,
      context: { readonly actor: string; readonly meta?: EventMeta | undefined }
    ) => Effect.Effect<ConfigDocument, ConfigInvalid | ConfigConflict | EventStoreError>
  }
>() {
  static readonly layer = Layer.scoped(
    Configuration,
    Effect.gen(function*() {
      const store = yield* EventStore
      const { view } = commandsOf(store, yield* SqlClient.SqlClient)
      // the state the config view holds (the live one, or a past one inside `readingAt`)
      const stored = Effect.gen(function*() {
        const [row] = yield* view("config_current", ConfigRow, (sql) => sql`SELECT * FROM config_current WHERE id = 1`)
        // A config written by an older version gains the defaults of keys added since; a setting
        // that cannot be used is replaced by its default and reported, never a failed start.
        const usable = row === undefined ? { config: defaultConfig, repaired: [] } : usableConfig(row.config, defaultConfig)
        const state: ConfigState = {
          config: usable.config,
          apiKeySha256: row?.api_key_sha256 ?? null,
          version: row?.version ?? 0,
          extra: row?.extra ?? {}
        }
        return { state, repaired: usable.repaired }
      })
      const { state: initial, repaired } = yield* stored
      for (const repair of repaired) yield* Effect.logWarning(`stored configuration: ${repair}`)
      const ref = yield* SubscriptionRef.make(initial)
      const lock = yield* Effect.makeSemaphore(1)

      const update = (patch: ConfigPatch, context: { readonly actor: string; readonly meta?: EventMeta | undefined }) =>
        lock.withPermits(1)(
          Effect.gen(function*() {
            const state = yield* SubscriptionRef.get(ref)
            const decided = decideUpdate(state, patch)
            if (Either.isLeft(decided)) return yield* new ConfigInvalid({ message: decided.left })
            const change = decided.right
            if (change === undefined) return documentOf(state)
            const [event] = yield* store.append({
              stream: CONFIG_STREAM,
              expectedVersion: state.version,
              events: [{ type: CONFIG_CHANGED, data: change }],
              actor: context.actor,
              meta: context.meta
            }).pipe(
              Effect.catchIf(
                (e): e is StreamVersionConflict => e instanceof StreamVersionConflict,
                (e) => new ConfigConflict({ message: e.message })
              )
            )
            // An idempotent replay returns the first event; the state already reflects it then.
            if (event !== undefined && event.version > state.version) {
              const next = { config: change.config, apiKeySha256: change.api_key_sha256, version: event.version, extra: change.extra ?? {} }
              yield* SubscriptionRef.set(ref, next)
              return documentOf(next)
            }
            return documentOf(yield* SubscriptionRef.get(ref))
          })
        )

      return Configuration.of({
        current: Effect.map(SubscriptionRef.get(ref), (s) => s.config),
        // the live document from memory; a past one (`?at_seq`) from the past config view
        document: Effect.flatMap(FiberRef.get(ReadingAt), (past) =>
          past === undefined ? Effect.map(SubscriptionRef.get(ref), documentOf) : Effect.map(stored, ({ state }) => documentOf(state))),
        state: SubscriptionRef.get(ref),
        repairedAtStart: repaired,
        changes: Stream.map(ref.changes, (s) => s.config),
        update
      })
    })
  )
}
