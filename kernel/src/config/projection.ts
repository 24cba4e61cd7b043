import type { StoredEvent } from "@annal/store"
import * as Projection from "../projection/Projection.js"
import { CONFIG_CHANGED, type ConfigChanged } from "./events.js"

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
  apply: (event: StoredEvent, db) => {
    const data = event.data as unknown as ConfigChanged
    db.run(
      `INSERT INTO config_current (id, config, api_key_sha256, extra, version, updated_at) VALUES (1, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET config = excluded.config, api_key_sha256 = excluded.api_key_sha256,
         extra = excluded.extra, version = excluded.version, updated_at = excluded.updated_at`,
      [JSON.stringify(data.config), data.api_key_sha256, JSON.stringify(data.extra ?? {}), event.version, event.at]
    )
  }
})
