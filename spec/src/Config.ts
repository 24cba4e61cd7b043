/**
 * Annal's configuration: what `GET /api/config` returns and `PUT /api/config` changes. Every
 * change is a `config_changed` event; the running server applies it at once, except
 * `server.host` and `server.port`, which take effect at the next start.
 */
import { Schema } from "effect"

const PositiveInt = Schema.Int.pipe(Schema.positive())
const Percent = Schema.Number.pipe(Schema.between(0, 100))

export const ServerConfig = Schema.Struct({
  host: Schema.String.pipe(Schema.minLength(1)),
  port: Schema.Int.pipe(Schema.between(0, 65535))
})

export const SecurityConfig = Schema.Struct({
  /** When false, `/api/*` needs no token. */
  auth_enabled: Schema.Boolean,
  /** Token-bucket limit per client address: refill per minute, and the burst. */
  rate_limit_per_minute: PositiveInt,
  /** Largest request body accepted, in bytes. */
  max_body_bytes: PositiveInt.pipe(Schema.lessThanOrEqualTo(100 * 1024 * 1024)),
  /** Whether an API key is set in the configuration (the key itself is never shown). */
  api_key_set: Schema.Boolean
})

export const ResourcesConfig = Schema.Struct({
  sample_interval_secs: PositiveInt,
  history_size: PositiveInt.pipe(Schema.lessThanOrEqualTo(100_000)),
  overload: Schema.Struct({
    cpu_percent: Percent,
    memory_percent: Percent,
    load_avg: Schema.Number.pipe(Schema.nonNegative())
  })
})

export const EventsConfig = Schema.Struct({
  /** Seconds between SSE keep-alive comments. */
  ping_interval_secs: PositiveInt,
  /** Live events buffered per SSE/WebSocket subscriber before it is cut off (it then resumes). */
  subscriber_buffer: PositiveInt.pipe(Schema.lessThanOrEqualTo(1_000_000))
})

export const AnnalConfig = Schema.Struct({
  server: ServerConfig,
  security: SecurityConfig,
  resources: ResourcesConfig,
  events: EventsConfig
})
export type AnnalConfig = typeof AnnalConfig.Type

export const defaultConfig: AnnalConfig = {
  server: { host: "127.0.0.1", port: 4200 },
  security: { auth_enabled: true, rate_limit_per_minute: 600, max_body_bytes: 10 * 1024 * 1024, api_key_set: false },
  resources: { sample_interval_secs: 5, history_size: 720, overload: { cpu_percent: 90, memory_percent: 90, load_avg: 10 } },
  events: { ping_interval_secs: 30, subscriber_buffer: 1024 }
}

/**
 * The body of `PUT /api/config`: any part of the configuration; what is given replaces the
 * current value, the rest stays. `security.api_key` sets (string) or clears (null) the API key;
 * `security.api_key_set` is accepted so a GET can be sent back unchanged, and ignored.
 */
export const ConfigPatch = Schema.Struct({
  server: Schema.optional(Schema.partial(ServerConfig)),
  security: Schema.optional(
    Schema.Struct({
      auth_enabled: Schema.optional(SecurityConfig.fields.auth_enabled),
      rate_limit_per_minute: Schema.optional(SecurityConfig.fields.rate_limit_per_minute),
      max_body_bytes: Schema.optional(SecurityConfig.fields.max_body_bytes),
      api_key_set: Schema.optional(SecurityConfig.fields.api_key_set),
      api_key: Schema.optional(Schema.NullOr(Schema.String.pipe(Schema.minLength(16, { message: () => "an API key needs at least 16 characters" }))))
    })
  ),
  resources: Schema.optional(
    Schema.Struct({
      sample_interval_secs: Schema.optional(ResourcesConfig.fields.sample_interval_secs),
      history_size: Schema.optional(ResourcesConfig.fields.history_size),
      overload: Schema.optional(Schema.partial(ResourcesConfig.fields.overload))
    })
  ),
  events: Schema.optional(Schema.partial(EventsConfig))
}).annotations({ parseOptions: { onExcessProperty: "error" } })
export type ConfigPatch = typeof ConfigPatch.Type
