/** Health, status, resources, host tools: the system group of the API (seed sections 3, 18, 22). */
import { Schema } from "effect"
import { IntegerParam } from "./IntegerParam.js"

export const Health = Schema.Struct({ status: Schema.String, version: Schema.String })

const ComponentHealth = Schema.Struct({
  healthy: Schema.Boolean,
  detail: Schema.NullOr(Schema.String)
})

export const Status = Schema.Struct({
  service: Schema.String,
  status: Schema.String,
  version: Schema.String,
  channels: Schema.Array(Schema.String),
  uptime: Schema.String,
  uptime_secs: Schema.Number,
  components: Schema.Struct({
    state_store: Schema.Struct({
      ...ComponentHealth.fields,
      /** What the start repaired: views rebuilt because the log was cut or restored while stopped. */
      repaired_at_start: Schema.Array(Schema.String),
      events: Schema.Number,
      head_seq: Schema.Number,
      chain_valid: Schema.NullOr(Schema.Boolean),
      /**
       * The seq the last verification walked the chain from: the start checks from its last signed
       * checkpoint on (checkpoint size + 1), a full walk (GET /api/audit/verify) from 1.
       */
      chain_verified_from: Schema.NullOr(Schema.Number)
    }),
    event_bus: Schema.Struct({ ...ComponentHealth.fields, subscribers: Schema.Number }),
    /** Unhealthy when a stored setting could not be used at start (the detail names it and the default used). */
    config: ComponentHealth,
    memory: Schema.Struct({ enabled: Schema.Boolean, index_size: Schema.Number, total_entries: Schema.Number }),
    llm: Schema.Struct({
      configured: Schema.Boolean,
      provider: Schema.NullOr(Schema.String),
      model: Schema.NullOr(Schema.String),
      detail: Schema.NullOr(Schema.String)
    }),
    agents: Schema.Struct({
      active_count: Schema.Number,
      total_forked: Schema.Number,
      total_completed: Schema.Number,
      total_failed: Schema.Number
    })
  })
})
export type Status = typeof Status.Type

/** One sample of the machine, as `GET /api/resources` returns it. */
export const ResourceSnapshot = Schema.Struct({
  cpu_percent: Schema.Number,
  memory_percent: Schema.Number,
  memory_used_mb: Schema.Int,
  memory_total_mb: Schema.Int,
  load_avg_1m: Schema.Number,
  load_avg_5m: Schema.Number,
  load_avg_15m: Schema.Number,
  timestamp: Schema.String
}).annotations({ identifier: "ResourceSnapshot" })
export type ResourceSnapshot = typeof ResourceSnapshot.Type

/** One entry of `GET /api/resources/history`. */
export const ResourceHistoryEntry = Schema.Struct({
  cpu_percent: Schema.Number,
  memory_percent: Schema.Number,
  timestamp: Schema.String
}).annotations({ identifier: "ResourceHistoryEntry" })
export type ResourceHistoryEntry = typeof ResourceHistoryEntry.Type

/** The body of `GET /api/resources/history`: newest first. */
export const ResourceHistory = Schema.Struct({
  snapshots: Schema.Array(ResourceHistoryEntry),
  count: Schema.Int
}).annotations({ identifier: "ResourceHistory" })
export type ResourceHistory = typeof ResourceHistory.Type

export const ResourceHistoryQuery = Schema.Struct({
  last_n: Schema.optional(IntegerParam(0, 100_000))
})

/** The limits above which the machine counts as overloaded; `load_avg` is compared with the 1-minute load. */
export const OverloadThresholds = Schema.Struct({
  cpu_percent: Schema.Number,
  memory_percent: Schema.Number,
  load_avg: Schema.Number
}).annotations({ identifier: "OverloadThresholds" })
export type OverloadThresholds = typeof OverloadThresholds.Type

/** The body of `GET /api/resources/overload`. */
export const OverloadStatus = Schema.Struct({
  overloaded: Schema.Boolean,
  threshold: OverloadThresholds
}).annotations({ identifier: "OverloadStatus" })
export type OverloadStatus = typeof OverloadStatus.Type

/** The body of `GET /api/host-tools`. */
export const HostToolsStatus = Schema.Struct({
  all_required_present: Schema.Boolean,
  missing_required: Schema.Array(Schema.String),
  optional_available: Schema.Record({ key: Schema.String, value: Schema.Boolean })
}).annotations({ identifier: "HostToolsStatus" })
export type HostToolsStatus = typeof HostToolsStatus.Type
