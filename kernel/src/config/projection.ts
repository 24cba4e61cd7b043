import { Effect, Schema } from "effect"
import type { StoredEvent } from "@annal/store"
import * as Projection from "../projection/Projection.js"
import { decodeData } from "../shared/EventData.js"
import { CONFIG_CHANGED, ConfigChanged } from "./events.js"

/**
 * The row of `config_current`: the configuration as JSON (what it holds is checked, and
 * repaired where unusable, by `usableConfig`), the unknown keys a JSON object.
 */
export const ConfigRow = Schema.Struct({
  id: Schema.Literal(1),
  config: Schema.parseJson(),
  api_key_sha256: Schema.NullOr(Schema.String),
  extra: Schema.parseJson(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  version: Schema.Number,
  updated_at: Schema.String
})

/** The current configuration: one row. */
export const configProjection = Projection.make({
  name: "config",
  version: 2,
  tables: [
    {
      name: "config_current",
      ddl: `CREATE TABLE config_current (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        config TEXT NOT NULL,
        api_key_sha256 TEXT,
        extra TEXT NOT NULL DEFAULT '{}',
        version INTEGER NOT NULL,
        updated_at TEXT NOT NULL
      )`
    }
  ],
  handles: [CONFIG_CHANGED],
  apply: (event: StoredEvent, db) =>
    Effect.gen(function*() {
      const data = decodeData(ConfigChanged, event)
      yield* db.run(
        `INSERT INTO config_current (id, config, api_key_sha256, extra, version, updated_at) VALUES (1, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET config = excluded.config, api_key_sha256 = excluded.api_key_sha256,
           extra = excluded.extra, version = excluded.version, updated_at = excluded.updated_at`,
        // the configuration and the unknown keys exactly as recorded: decoding orders keys as the
        // Schema does and drops those this version does not know
        [JSON.stringify(event.data["config"]), data.api_key_sha256, JSON.stringify(event.data["extra"] ?? {}), event.version, event.at]
      )
  })
})
