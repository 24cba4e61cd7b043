import { Effect, Schema } from "effect"
import type { StoredEvent } from "@annal/store"
import * as Projection from "../projection/Projection.js"
import { decodeData } from "../shared/EventData.js"
import { decodeRowSync, JsonStrings } from "../shared/ViewRow.js"
import { MEMORY_DELETED, MEMORY_STORED, MemoryDeleted, MemoryStored } from "./events.js"

/** A row of `memory_entries`: the tags are JSON. */
export const MemoryRow = Schema.Struct({
  seq: Schema.Number,
  id: Schema.String,
  type: Schema.String,
  content: Schema.String,
  tags: JsonStrings,
  importance: Schema.Number,
  created_at: Schema.String,
  actor: Schema.String
})

/** What the full-text index holds of a memory's row: its seq, content and tags as stored (JSON). */
const indexedValues = decodeRowSync(Schema.encodedSchema(MemoryRow).pipe(Schema.pick("seq", "content", "tags")), "memory_entries")

/**
 * Stored memories, and their keyword index, kept in step here so keyword search is
 * read-your-writes: on SQLite an FTS5 table over `content` and `tags` whose rows are the
 * memories' rows (external content, rowid = the memory_stored seq), ranked by BM25; on
 * PostgreSQL a table of the same rows with a generated `tsvector` under a GIN index. The semantic index is not a view: it lives in
 * `memory.hnsw` and follows the log on its own.
 */
export const memoryProjection = Projection.make({
  name: "memory",
  version: 1,
  tables: [
    {
      name: "memory_entries",
      ddl: `CREATE TABLE memory_entries (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        content TEXT NOT NULL,
        tags TEXT NOT NULL,
        importance REAL NOT NULL,
        created_at TEXT NOT NULL,
        actor TEXT NOT NULL
      );
      CREATE INDEX memory_entries_type ON memory_entries (type, seq);`
    },
    {
      name: "memory_fts",
      ddl: {
        sqlite: `CREATE VIRTUAL TABLE memory_fts USING fts5(
        content, tags,
        content = 'memory_entries', content_rowid = 'seq',
        tokenize = 'porter unicode61 remove_diacritics 2'
      )`,
        postgres: `CREATE TABLE memory_fts (
        rowid BIGINT PRIMARY KEY,
        content TEXT NOT NULL,
        tags TEXT NOT NULL,
        document tsvector GENERATED ALWAYS AS (to_tsvector('english', content || ' ' || tags)) STORED
      );
      CREATE INDEX memory_fts_document ON memory_fts USING GIN (document);`
      }
    }
  ],
  // memory_recalled changes no view: per-memory recall counts would rewrite a page per result
  // in every search's commit, which costs more than the search itself
  handles: [MEMORY_STORED, MEMORY_DELETED],
  apply: (event: StoredEvent, db) =>
    Effect.gen(function*() {
      switch (event.type) {
        case MEMORY_STORED: {
          const d = decodeData(MemoryStored, event)
          const tags = JSON.stringify(d.tags)
          yield* db.run(
            `INSERT INTO memory_entries (seq, id, type, content, tags, importance, created_at, actor)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
            [event.seq, d.id, d.memory_type, d.content, tags, d.importance, event.at, event.actor]
          )
          yield* db.run("INSERT INTO memory_fts (rowid, content, tags) VALUES (?, ?, ?)", [event.seq, d.content, tags])
          return
        }
        case MEMORY_DELETED: {
          const d = decodeData(MemoryDeleted, event)
          const found = yield* db.get("SELECT seq, content, tags FROM memory_entries WHERE id = ?", [d.id])
          if (found === undefined) return
          const row = indexedValues(found)
          // an external-content FTS table forgets a row only when told its indexed values
          if (db.engine === "sqlite") {
            yield* db.run("INSERT INTO memory_fts (memory_fts, rowid, content, tags) VALUES ('delete', ?, ?, ?)", [row.seq, row.content, row.tags])
          } else {
            yield* db.run("DELETE FROM memory_fts WHERE rowid = ?", [row.seq])
          }
          yield* db.run("DELETE FROM memory_entries WHERE seq = ?", [row.seq])
          return
        }
      }
  })
})
