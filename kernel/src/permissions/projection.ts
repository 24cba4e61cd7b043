import { Effect, Schema } from "effect"
import * as Projection from "../projection/Projection.js"
import { decodeData } from "../shared/EventData.js"
import { Flag, JsonStrings } from "../shared/ViewRow.js"
import { PERMISSIONS_CHANGED, PermissionsChanged } from "./events.js"

/** A row of `agent_permissions`: the lists are JSON, the flags 0 or 1. */
export const PermissionsRow = Schema.Struct({
  agent_name: Schema.String,
  allowed_tools: JsonStrings,
  allowed_paths: JsonStrings,
  denied_paths: JsonStrings,
  network_access: Flag,
  max_execution_time_secs: Schema.Number,
  max_memory_mb: Schema.Number,
  can_fork: Flag,
  version: Schema.Number
})

/** Each agent's current permissions: one row per agent, lists as JSON arrays. */
export const permissionsProjection = Projection.make({
  name: "permissions",
  version: 1,
  tables: [
    {
      name: "agent_permissions",
      ddl: `CREATE TABLE agent_permissions (
        agent_name TEXT PRIMARY KEY,
        allowed_tools TEXT NOT NULL,
        allowed_paths TEXT NOT NULL,
        denied_paths TEXT NOT NULL,
        network_access INTEGER NOT NULL,
        max_execution_time_secs INTEGER NOT NULL,
        max_memory_mb INTEGER NOT NULL,
        can_fork INTEGER NOT NULL,
        version INTEGER NOT NULL,
        updated_at TEXT NOT NULL
      )`
    }
  ],
  handles: [PERMISSIONS_CHANGED],
  apply: (event, db) =>
    Effect.gen(function*() {
      const d = decodeData(PermissionsChanged, event)
      yield* db.run(
        `INSERT INTO agent_permissions (agent_name, allowed_tools, allowed_paths, denied_paths, network_access,
           max_execution_time_secs, max_memory_mb, can_fork, version, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (agent_name) DO UPDATE SET allowed_tools = excluded.allowed_tools, allowed_paths = excluded.allowed_paths,
           denied_paths = excluded.denied_paths, network_access = excluded.network_access,
           max_execution_time_secs = excluded.max_execution_time_secs, max_memory_mb = excluded.max_memory_mb,
           can_fork = excluded.can_fork, version = excluded.version, updated_at = excluded.updated_at`,
        [
          d.agent_name,
          JSON.stringify(d.allowed_tools),
          JSON.stringify(d.allowed_paths),
          JSON.stringify(d.denied_paths),
          d.network_access ? 1 : 0,
          d.max_execution_time_secs,
          d.max_memory_mb,
          d.can_fork ? 1 : 0,
          event.version,
          event.at
        ]
      )
  })
})
