import { Persona } from "@annal/spec"
import { Effect, Schema } from "effect"
import * as Projection from "../projection/Projection.js"
import { decodeData } from "../shared/EventData.js"
import { Flag, JsonStrings } from "../shared/ViewRow.js"
import {
  PERSONA_ACTIVATED,
  PERSONA_CREATED,
  PERSONA_DELETED,
  PERSONA_UPDATED,
  PersonaActivated,
  PersonaCreated,
  PersonaDeleted,
  PersonaUpdated
} from "./events.js"

const COLUMNS = ["name", "role", "description", "system_prompt", "enabled", "model", "personality_traits"] as const

const column = (key: (typeof COLUMNS)[number], value: unknown): unknown =>
  key === "enabled" ? (value ? 1 : 0) : key === "personality_traits" ? JSON.stringify(value) : value

/** A row of `personas`: the API's Persona without its stream, `enabled` 0 or 1, the traits JSON, and its seq. */
export const PersonaRow = Schema.Struct({
  ...Persona.omit("stream").fields,
  enabled: Flag,
  personality_traits: JsonStrings,
  seq: Schema.Number
})

/** The row of `persona_active`: the active persona, if any. */
export const PersonaActiveRow = Schema.Struct({
  slot: Schema.Literal(1),
  persona_id: Schema.NullOr(Schema.String),
  activated_at: Schema.String
})

/** Every persona, and which one is active. */
export const personasProjection = Projection.make({
  name: "personas",
  version: 1,
  tables: [
    {
      name: "personas",
      ddl: `CREATE TABLE personas (
        id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        description TEXT NOT NULL,
        system_prompt TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        model TEXT,
        personality_traits TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX personas_seq ON personas (seq);`
    },
    {
      name: "persona_active",
      ddl: `CREATE TABLE persona_active (
        slot INTEGER PRIMARY KEY CHECK (slot = 1),
        persona_id TEXT,
        activated_at TEXT NOT NULL
      )`
    }
  ],
  handles: [PERSONA_CREATED, PERSONA_UPDATED, PERSONA_DELETED, PERSONA_ACTIVATED],
  apply: (event, db) =>
    Effect.gen(function*() {
      switch (event.type) {
        case PERSONA_CREATED: {
          const d = decodeData(PersonaCreated, event)
          yield* db.run(
            `INSERT INTO personas (id, seq, name, role, description, system_prompt, enabled, model, personality_traits, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            [d.persona_id, event.seq, ...COLUMNS.map((k) => column(k, d[k])), event.at, event.at]
          )
          return
        }
        case PERSONA_UPDATED: {
          const d = decodeData(PersonaUpdated, event)
          const keys = COLUMNS.filter((k) => d[k] !== undefined)
          yield* db.run(
            `UPDATE personas SET ${keys.map((k) => `${k} = ?, `).join("")}updated_at = ? WHERE id = ?`,
            [...keys.map((k) => column(k, d[k])), event.at, d.persona_id]
          )
          return
        }
        case PERSONA_DELETED: {
          const d = decodeData(PersonaDeleted, event)
          yield* db.run("DELETE FROM personas WHERE id = ?", [d.persona_id])
          yield* db.run("UPDATE persona_active SET persona_id = NULL, activated_at = ? WHERE persona_id = ?", [event.at, d.persona_id])
          return
        }
        case PERSONA_ACTIVATED: {
          const d = decodeData(PersonaActivated, event)
          yield* db.run(
            `INSERT INTO persona_active (slot, persona_id, activated_at) VALUES (1, ?, ?)
             ON CONFLICT (slot) DO UPDATE SET persona_id = excluded.persona_id, activated_at = excluded.activated_at`,
            [d.persona_id, event.at]
          )
          return
        }
      }
  })
})
