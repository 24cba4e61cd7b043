import { AnnalConfig } from "@annal/spec"
import { Schema } from "effect"

/** The whole configuration after a change, and which keys changed. */
export const ConfigChanged = Schema.Struct({
  /**
   * As recorded: a setting an older version accepted may break today's rules (the start repairs
   * it), so the event is not refused for it — replaying the log must never fail on old settings.
   */
  config: Schema.declare((u: unknown): u is typeof AnnalConfig.Type => typeof u === "object" && u !== null && !Array.isArray(u)),
  /** sha256 of the API key set in the configuration, or null when none is set. */
  api_key_sha256: Schema.NullOr(Schema.String),
  changed: Schema.Array(Schema.String),
  /** Every key Annal does not know, as clients gave them (absent when there are none). */
  extra: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})
export type ConfigChanged = typeof ConfigChanged.Type

export const CONFIG_STREAM = "config"
export const CONFIG_CHANGED = "config_changed"
