/**
 * Projections: each bounded context turns events into rows of its own view tables, inside the
 * append transaction. A projection is deterministic — it reads only the event and its tables —
 * so replaying the log rebuilds identical views.
 */
import { Projector, type StoredEvent, type ViewDb } from "@annal/store"
import { createHash } from "node:crypto"
import { Layer } from "effect"

export interface ViewTable {
  readonly name: string
  /** CREATE TABLE (and CREATE INDEX) statements for this table. */
  readonly ddl: string
}

export interface Projection {
  /** The bounded context that owns it, e.g. "config". */
  readonly name: string
  /** Bumped whenever apply or the tables change; a changed projection is rebuilt on start. */
  readonly version: number
  readonly tables: ReadonlyArray<ViewTable>
  /** Event types it reacts to; others are never passed to apply. */
  readonly handles: ReadonlyArray<string>
  readonly apply: (event: StoredEvent, db: ViewDb) => void
}

/** `INSERT … ON CONFLICT (key) DO UPDATE` of every column: the upsert of a view row. */
export const upsertSql = (table: string, columns: ReadonlyArray<string>, key = "id") =>
  `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})
  ON CONFLICT (${key}) DO UPDATE SET ${columns.filter((c) => c !== key).map((c) => `${c} = excluded.${c}`).join(", ")}`

/** Declares a projection. */
export const make = (projection: Projection): Projection => projection

const VERSIONS_DDL = `CREATE TABLE IF NOT EXISTS projection_versions (
  name TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  schema_hash TEXT NOT NULL
)`

const schemaHash = (p: Projection) =>
  createHash("sha256").update(p.tables.map((t) => t.ddl).join("\n")).digest("hex")

/** Routes each event type to the projections that handle it. */
const router = (projections: ReadonlyArray<Projection>) => {
  const byType = new Map<string, Array<Projection>>()
  for (const p of projections) {
    for (const type of p.handles) {
      const list = byType.get(type) ?? []
      list.push(p)
      byType.set(type, list)
    }
  }
  return (event: StoredEvent, db: ViewDb) => {
    const targets = byType.get(event.type)
    if (targets === undefined) return
    for (const p of targets) p.apply(event, db)
  }
}

const dropTables = (db: ViewDb, p: Projection) => {
  for (const t of p.tables) db.exec(`DROP TABLE IF EXISTS "${t.name}"`)
}
const createTables = (db: ViewDb, p: Projection) => {
  for (const t of p.tables) db.exec(t.ddl)
}

/** Creates every projection's tables in an empty database and replays events into them. */
export const buildInto = (
  db: ViewDb,
  projections: ReadonlyArray<Projection>,
  replay: (apply: (event: StoredEvent) => void) => void
) => {
  for (const p of projections) createTables(db, p)
  const apply = router(projections)
  replay((event) => apply(event, db))
}

/**
 * The store's Projector for a set of projections. On start, a projection whose version or
 * tables changed (or that is new) has its tables dropped, recreated and replayed from the log.
 */
export const projector = (projections: ReadonlyArray<Projection>): Layer.Layer<Projector> =>
  Layer.succeed(Projector, {
    prepare: (db, replay, { rebuildAll }) => {
      db.exec(VERSIONS_DDL)
      const stale = rebuildAll ? projections : projections.filter((p) => {
        const row = db.get<{ version: number; schema_hash: string }>(
          "SELECT version, schema_hash FROM projection_versions WHERE name = ?",
          [p.name]
        )
        return row === undefined || row.version !== p.version || row.schema_hash !== schemaHash(p)
      })
      if (stale.length === 0) return
      for (const p of stale) dropTables(db, p)
      buildInto(db, stale, replay)
      for (const p of stale) {
        db.run(
          "INSERT INTO projection_versions (name, version, schema_hash) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET version = excluded.version, schema_hash = excluded.schema_hash",
          [p.name, p.version, schemaHash(p)]
        )
      }
    },
    apply: router(projections)
  })

/** A stable digest of one table's rows, independent of insertion order. */
export const tableDigest = (db: ViewDb, table: string): { rows: number; digest: string } => {
  const columns = db.all<{ name: string }>(`SELECT name FROM pragma_table_info(?)`, [table]).map((c) => `"${c.name}"`)
  const rows = db.all<Record<string, unknown>>(
    `SELECT ${columns.map((c) => `typeof(${c}), ${c}`).join(", ")} FROM "${table}" ORDER BY ${columns.join(", ")}`
  )
  const hash = createHash("sha256")
  for (const row of rows) hash.update(JSON.stringify(Object.values(row))).update("\n")
  return { rows: rows.length, digest: hash.digest("hex") }
}

/** Every view table of a set of projections. */
export const tablesOf = (projections: ReadonlyArray<Projection>): ReadonlyArray<string> =>
  projections.flatMap((p) => p.tables.map((t) => t.name))
