import { ProgramToolArgument } from "@annal/spec"
import { Effect, Schema } from "effect"
import { Chain } from "@annal/store"
import * as Projection from "../projection/Projection.js"
import { decodeData } from "../shared/EventData.js"
import { Flag, JsonStrings } from "../shared/ViewRow.js"
import {
  DeclaredTool,
  PROGRAM_DISABLED,
  PROGRAM_ENABLED,
  PROGRAM_INSTALLED,
  PROGRAM_UNINSTALLED,
  ProgramChanged,
  ProgramInstalled,
  ProgramSource
} from "./events.js"

/** A row of the `programs` view: the lists and servers are JSON, `enabled` 0 or 1. */
export const ProgramRow = Schema.Struct({
  name: Schema.String,
  version: Schema.String,
  description: Schema.String,
  author: Schema.String,
  enabled: Flag,
  source_kind: ProgramSource.fields.kind,
  source_location: Schema.String,
  source_commit: Schema.NullOr(Schema.String),
  sha256: Schema.String,
  requires_tools: JsonStrings,
  host_required: JsonStrings,
  host_optional: JsonStrings,
  mcp_servers: Schema.parseJson(Schema.Array(Schema.Struct({ name: Schema.String, enabled: Schema.Boolean }))),
  skill_description: Schema.NullOr(Schema.String),
  skill_keywords: Schema.NullOr(JsonStrings),
  skill_content: Schema.NullOr(Schema.String),
  installed_at: Schema.String,
  updated_at: Schema.String,
  seq: Schema.Number
})

/** A row of the `program_tools` view: the tools a manifest declares, their arguments JSON. */
export const ProgramToolRow = Schema.Struct({
  program: Schema.String,
  name: Schema.String,
  tool_name: Schema.String,
  kind: DeclaredTool.fields.kind,
  description: Schema.String,
  arguments: Schema.parseJson(Schema.Array(ProgramToolArgument))
})

/** The installed programs and their declared tools; an uninstalled one leaves both (its events stay). */
export const programsProjection = Projection.make({
  name: "programs",
  version: 2,
  tables: [
    {
      name: "programs",
      ddl: `CREATE TABLE programs (
        name TEXT PRIMARY KEY,
        version TEXT NOT NULL,
        description TEXT NOT NULL,
        author TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        source_kind TEXT NOT NULL,
        source_location TEXT NOT NULL,
        source_commit TEXT,
        sha256 TEXT NOT NULL,
        requires_tools TEXT NOT NULL,
        host_required TEXT NOT NULL,
        host_optional TEXT NOT NULL,
        mcp_servers TEXT NOT NULL,
        skill_description TEXT,
        skill_keywords TEXT,
        skill_content TEXT,
        installed_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        seq INTEGER NOT NULL
      )`
    },
    {
      name: "program_tools",
      ddl: `CREATE TABLE program_tools (
        program TEXT NOT NULL,
        name TEXT NOT NULL,
        tool_name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        description TEXT NOT NULL,
        arguments TEXT NOT NULL,
        PRIMARY KEY (program, name)
      )`
    }
  ],
  handles: [PROGRAM_INSTALLED, PROGRAM_ENABLED, PROGRAM_DISABLED, PROGRAM_UNINSTALLED],
  apply: (event, db) =>
    Effect.gen(function*() {
      switch (event.type) {
        case PROGRAM_INSTALLED: {
          const d = decodeData(ProgramInstalled, event)
          yield* db.run(
            `INSERT INTO programs (name, version, description, author, enabled, source_kind, source_location, source_commit, sha256,
              requires_tools, host_required, host_optional, mcp_servers, skill_description, skill_keywords, skill_content, installed_at, updated_at, seq)
             VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            [
              d.name,
              d.version,
              d.description,
              d.author,
              d.source.kind,
              d.source.location,
              d.source.commit,
              d.sha256,
              JSON.stringify(d.requires_tools),
              JSON.stringify(d.host_requirements.required),
              JSON.stringify(d.host_requirements.optional),
              // canonical, as recorded: the decoded objects' keys come in the Schema's order
              Chain.canonicalJson(d.mcp_servers),
              d.skill?.description ?? null,
              d.skill === null ? null : JSON.stringify(d.skill.keywords),
              d.skill?.content ?? null,
              event.at,
              event.at,
              event.seq
            ]
          )
          for (const t of d.tools) {
            yield* db.run("INSERT INTO program_tools (program, name, tool_name, kind, description, arguments) VALUES (?, ?, ?, ?, ?, ?)", [
              d.name,
              t.name,
              t.tool_name,
              t.kind,
              t.description,
              Chain.canonicalJson(t.arguments)
            ])
          }
          return
        }
        case PROGRAM_ENABLED:
        case PROGRAM_DISABLED: {
          const d = decodeData(ProgramChanged, event)
          yield* db.run("UPDATE programs SET enabled = ?, updated_at = ?, seq = ? WHERE name = ?", [event.type === PROGRAM_ENABLED ? 1 : 0, event.at, event.seq, d.name])
          return
        }
        case PROGRAM_UNINSTALLED: {
          const d = decodeData(ProgramChanged, event)
          yield* db.run("DELETE FROM program_tools WHERE program = ?", [d.name])
          yield* db.run("DELETE FROM programs WHERE name = ?", [d.name])
          return
        }
      }
  })
})
