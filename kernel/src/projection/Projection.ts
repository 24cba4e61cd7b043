/**
 * Projections: each bounded context turns events into rows of its own view tables, inside the
 * append transaction. A projection is deterministic — it reads only the event and its tables —
 * so replaying the log rebuilds identical views. It reaches its tables only through the store's
 * engine-neutral ViewDb (every call an Effect, SQL both engines accept: docs/store.md).
 */
import { Projector, type StoredEvent, type ViewDb } from "@annal/store"
import { createHash } from "node:crypto"
import { Effect, Layer } from "effect"

export interface ViewTable {
  readonly name: string
  /**
   * CREATE TABLE (and CREATE INDEX) statements for this table, in the SQL every engine accepts —
   * or, for the rare table one engine builds its own way (a full-text index), one per engine.
   */
  readonly ddl: string | { readonly [engine in ViewDb["engine"]]: string }
}

/** The table's DDL on `engine`. */
export const ddlOn = (table: ViewTable, engine: ViewDb["engine"]) => (typeof table.ddl === "string" ? table.ddl : table.ddl[engine])

export interface Projection {
  /** The bounded context that owns it, e.g. "config". */
  readonly name: string
  /** Bumped whenever apply or the tables change; a changed projection is rebuilt on start. */
  readonly version: number
  readonly tables: ReadonlyArray<ViewTable>
  /** Event types it reacts to; others are never passed to apply. */
  readonly handles: ReadonlyArray<string>
  readonly apply: (event: StoredEvent, db: ViewDb) => Effect.Effect<void>
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

const schemaHash = (p: Projection, engine: ViewDb["engine"]) =>
  createHash("sha256").update(p.tables.map((t) => ddlOn(t, engine)).join("\n")).digest("hex")

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
  return (event: StoredEvent, db: ViewDb): Effect.Effect<void> => {
    const targets = byType.get(event.type)
    if (targets === undefined) return Effect.void
    return targets.length === 1 ? targets[0]!.apply(event, db) : Effect.forEach(targets, (p) => p.apply(event, db), { discard: true })
  }
}

const dropTables = (db: ViewDb, p: Projection) => Effect.forEach(p.tables, (t) => db.exec(`DROP TABLE IF EXISTS "${t.name}"`), { discard: true })
const createTables = (db: ViewDb, p: Projection) => Effect.forEach(p.tables, (t) => db.exec(ddlOn(t, db.engine)), { discard: true })

/** Creates every projection's tables in an empty database and replays events into them. */
export const buildInto = (
  db: ViewDb,
  projections: ReadonlyArray<Projection>,
  replay: (apply: (event: StoredEvent) => Effect.Effect<void>) => Effect.Effect<void>
): Effect.Effect<void> =>
  Effect.gen(function*() {
    yield* Effect.forEach(projections, (p) => createTables(db, p), { discard: true })
    const apply = router(projections)
    yield* replay((event) => apply(event, db))
  })

/**
 * The store's Projector for a set of projections. On start, a projection whose version or
 * tables changed (or that is new) has its tables dropped, recreated and replayed from the log.
 */
export const projector = (projections: ReadonlyArray<Projection>): Layer.Layer<Projector> =>
  Layer.succeed(Projector, {
    prepare: (db, replay, { rebuildAll }) =>
      Effect.gen(function*() {
        yield* db.exec(VERSIONS_DDL)
        const stale = rebuildAll ? projections : yield* Effect.filter(projections, (p) =>
          Effect.map(
            db.get<{ version: number; schema_hash: string }>("SELECT version, schema_hash FROM projection_versions WHERE name = ?", [p.name]),
            (row) => row === undefined || row.version !== p.version || row.schema_hash !== schemaHash(p, db.engine)
          ))
        if (stale.length === 0) return
        yield* Effect.forEach(stale, (p) => dropTables(db, p), { discard: true })
        yield* buildInto(db, stale, replay)
        yield* Effect.forEach(stale, (p) =>
          db.run(
            "INSERT INTO projection_versions (name, version, schema_hash) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET version = excluded.version, schema_hash = excluded.schema_hash",
            [p.name, p.version, schemaHash(p, db.engine)]
          ), { discard: true })
      }),
    apply: router(projections)
  })

/** A stable digest of one table's rows (each value with its SQLite storage class), independent of insertion order. */
export const tableDigest = (db: ViewDb, table: string): Effect.Effect<{ rows: number; digest: string }> =>
  Effect.gen(function*() {
    const columns = (yield* db.all<{ name: string }>(`SELECT name FROM pragma_table_info(?)`, [table])).map((c) => `"${c.name}"`)
    const rows = yield* db.all<Record<string, unknown>>(
      `SELECT ${columns.map((c) => `typeof(${c}), ${c}`).join(", ")} FROM "${table}" ORDER BY ${columns.join(", ")}`
    )
    const hash = createHash("sha256")
    for (const row of rows) hash.update(JSON.stringify(Object.values(row))).update("\n")
    return { rows: rows.length, digest: hash.digest("hex") }
  })

/** Every view table of a set of projections. */
export const tablesOf = (projections: ReadonlyArray<Projection>): ReadonlyArray<string> =>
  projections.flatMap((p) => p.tables.map((t) => t.name))
