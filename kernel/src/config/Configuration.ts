/**
 * The configuration service: the current config, read from its view at start, changed only by
 * appending `config_changed`, and pushed to whoever watches it so changes apply without restart.
 */
import { SqlClient } from "@effect/sql"
import { AnnalConfig, type ConfigPatch, defaultConfig } from "@annal/spec"
import { EventStore, type EventMeta, EventStoreError, StreamVersionConflict } from "@annal/store"
import { Context, Data, Effect, Either, Layer, Schema, Stream, SubscriptionRef } from "effect"
import { type ConfigState, decideUpdate, deepMerge } from "./decide.js"
import { CONFIG_CHANGED, CONFIG_STREAM } from "./events.js"

/** The patch leaves the configuration invalid; the message names the field. */
export class ConfigInvalid extends Data.TaggedError("ConfigInvalid")<{ readonly message: string }> {}

/** Someone else changed the configuration at the same moment. */
export class ConfigConflict extends Data.TaggedError("ConfigConflict")<{ readonly message: string }> {}

export class Configuration extends Context.Tag("@annal/kernel/Configuration")<
  Configuration,
  {
    readonly current: Effect.Effect<AnnalConfig>
    readonly state: Effect.Effect<ConfigState>
    /** The current config, then every change. */
    readonly changes: Stream.Stream<AnnalConfig>
    readonly update: (
      patch: ConfigPatch,
      context: { readonly actor: string; readonly meta?: EventMeta | undefined }
    ) => Effect.Effect<AnnalConfig, ConfigInvalid | ConfigConflict | EventStoreError>
  }
>() {
  static readonly layer = Layer.scoped(
    Configuration,
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* EventStore
      const rows = yield* sql<{ config: string; api_key_sha256: string | null; version: number }>`
        SELECT config, api_key_sha256, version FROM config_current WHERE id = 1`.pipe(
        Effect.mapError((cause) => new EventStoreError({ reason: "could not read the configuration", cause }))
      )
      const row = rows[0]
      // A config written by an older version gains the defaults of keys added since.
      const stored = row === undefined
        ? Either.right(defaultConfig)
        : Schema.decodeUnknownEither(AnnalConfig)(deepMerge(defaultConfig, JSON.parse(row.config)))
      const initial: ConfigState = {
        config: Either.getOrElse(stored, () => defaultConfig),
        apiKeySha256: row?.api_key_sha256 ?? null,
        version: row?.version ?? 0
      }
      if (Either.isLeft(stored)) yield* Effect.logWarning("stored configuration is invalid; using defaults")
      const ref = yield* SubscriptionRef.make(initial)
      const lock = yield* Effect.makeSemaphore(1)

      const update = (patch: ConfigPatch, context: { readonly actor: string; readonly meta?: EventMeta | undefined }) =>
        lock.withPermits(1)(
          Effect.gen(function*() {
            const state = yield* SubscriptionRef.get(ref)
            const decided = decideUpdate(state, patch)
            if (Either.isLeft(decided)) return yield* new ConfigInvalid({ message: decided.left })
            const change = decided.right
            if (change === undefined) return state.config
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
              yield* SubscriptionRef.set(ref, { config: change.config, apiKeySha256: change.api_key_sha256, version: event.version })
              return change.config
            }
            return (yield* SubscriptionRef.get(ref)).config
          })
        )

      return Configuration.of({
        current: Effect.map(SubscriptionRef.get(ref), (s) => s.config),
        state: SubscriptionRef.get(ref),
        changes: Stream.map(ref.changes, (s) => s.config),
        update
      })
    })
  )
}
