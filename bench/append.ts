/**
 * Append throughput: the kernel's event store (hash chain, group commit, projections inline)
 * against raw better-sqlite3 inserting the same rows, both on WAL with synchronous=FULL.
 *
 *   npm run bench:append
 */
import { AccessEvents, Kernel } from "@annal/kernel"
import { EventStore } from "@annal/store"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { rmSync } from "node:fs"
import { fmt, machine, printResult, rate, tempDir } from "./lib.js"

const APPENDERS = 64
const WARMUP_PER_APPENDER = 50
const PER_APPENDER = 500
const MEASURED = APPENDERS * PER_APPENDER
const ROUNDS = 3
const WARMUP = APPENDERS * WARMUP_PER_APPENDER

/** The columns of `events`, in the order the store inserts them. */
const COLUMNS = "seq, id, stream, version, type, actor, at, data, meta, prev_hash, hash"
const INSERT = `INSERT INTO events (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

type Statement = Database.Statement<Array<unknown>>
type Prepare = (this: Database.Database, source: string) => Statement

/**
 * Counts the rows each writer transaction commits, to learn the batch size group commit
 * achieves without touching the store: wraps `run` of the store's own `INSERT INTO events`
 * and `COMMIT` statements (one extra JS call each; no other statement is affected).
 */
const watchCommits = () => {
  const proto = Database.prototype as unknown as { prepare: Prepare }
  const original = proto.prepare
  let inserted = 0
  let committed = 0
  const batches: Array<number> = []
  const after = (stmt: Statement, f: () => void) => {
    const run = stmt.run
    stmt.run = (...params: Array<unknown>) => {
      const result = run.apply(stmt, params)
      f()
      return result
    }
  }
  proto.prepare = function(source) {
    const stmt = original.call(this, source)
    if (source === INSERT) after(stmt, () => inserted++)
    else if (source === "COMMIT") {
      after(stmt, () => {
        if (inserted > committed) batches.push(inserted - committed)
        committed = inserted
      })
    }
    return stmt
  }
  return { batches, restore: () => (proto.prepare = original) }
}

/** One access decision, shaped as `Access.record` appends it. */
const decision = (subject: string, n: number): AccessEvents.AccessDecided => {
  const allowed = n % 5 !== 0
  return {
    subject,
    action: n % 2 === 0 ? "use_tool:exec" : "access_path:/workspace",
    resource: `/workspace/${subject}/notes-${n}.md`,
    allowed,
    reason: allowed ? null : "not in the agent's allowlist"
  }
}

/** APPENDERS fibers at once, each appending `perAppender` decisions one append call at a time. */
const appendAll = (store: EventStore["Type"], perAppender: number, offset: number) =>
  Effect.forEach(
    Array.from({ length: APPENDERS }, (_, a) => `agent-${a}`),
    (subject) =>
      Effect.forEach(
        Array.from({ length: perAppender }, (_, i) => offset + i),
        (n) =>
          store.append({
            stream: AccessEvents.accessStream(subject),
            expectedVersion: "any",
            events: [{ type: AccessEvents.ACCESS_DECIDED, data: decision(subject, n) }],
            actor: `agent:${subject}`
          }),
        { discard: true }
      ),
    { concurrency: "unbounded", discard: true }
  )

const percentile = (sorted: ReadonlyArray<number>, p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!

/** Ours: the store as the kernel builds it, on a fresh file. */
const runOurs = async (filename: string) => {
  const watch = watchCommits()
  const program = Effect.gen(function*() {
    const store = yield* EventStore
    yield* appendAll(store, WARMUP_PER_APPENDER, 0)
    const mark = watch.batches.length
    const start = performance.now()
    yield* appendAll(store, PER_APPENDER, WARMUP_PER_APPENDER)
    const ms = performance.now() - start
    const head = yield* store.head
    return { ms, batches: watch.batches.slice(mark), head }
  })
  try {
    return await Effect.runPromise(program.pipe(Effect.provide(Kernel.storeLayer({ filename, synchronous: "FULL" }))))
  } finally {
    watch.restore()
  }
}

/** A table's DDL and the rows ours wrote into it, read back from ours' file. */
interface Written {
  readonly ddl: ReadonlyArray<string>
  readonly insert: string
  readonly rows: ReadonlyArray<Array<unknown>>
}

const readWritten = (db: Database.Database, table: string, columns: string): Written => ({
  ddl: db
    .prepare("SELECT sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL ORDER BY type = 'index', name")
    .pluck()
    .all(table) as Array<string>,
  insert: `INSERT INTO ${table} (${columns}) VALUES (${columns.split(",").map(() => "?").join(", ")})`,
  rows: db.prepare(`SELECT ${columns} FROM ${table} ORDER BY seq`).raw().all() as Array<Array<unknown>>
})

/**
 * Baseline: the rows ours wrote, values precomputed, inserted with one prepared statement per
 * table, `batch` events per transaction (row i of every table goes in with event i).
 */
const runBaseline = (filename: string, tables: ReadonlyArray<Written>, batch: number) => {
  const db = new Database(filename)
  try {
    db.pragma("journal_mode = WAL")
    db.pragma("synchronous = FULL")
    for (const table of tables) for (const statement of table.ddl) db.exec(statement)
    const inserts = tables.map((table) => ({ stmt: db.prepare(table.insert), rows: table.rows }))
    const insertRange = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) for (const { rows, stmt } of inserts) stmt.run(rows[i]!)
    })
    const insertAll = (from: number, to: number) => {
      for (let i = from; i < to; i += batch) insertRange.immediate(i, Math.min(i + batch, to))
    }
    insertAll(0, WARMUP)
    const start = performance.now()
    insertAll(WARMUP, WARMUP + MEASURED)
    return performance.now() - start
  } finally {
    db.close()
  }
}

/** One round: ours on a fresh file, then the baselines on fresh files with the rows ours wrote. */
const round = async (tmp: ReturnType<typeof tempDir>, index: number) => {
  const files: Array<string> = []
  const fresh = (name: string) => {
    files.push(name)
    return tmp.file(`${name}-${index}.db`)
  }
  const ours = await runOurs(fresh("ours"))
  if (ours.head.seq !== WARMUP + MEASURED) throw new Error(`expected head seq ${WARMUP + MEASURED}, got ${ours.head.seq}`)
  const sizes = [...ours.batches].sort((a, b) => a - b)
  const meanBatch = sizes.reduce((a, b) => a + b, 0) / sizes.length

  const written = new Database(tmp.file(`ours-${index}.db`), { readonly: true })
  const events = readWritten(written, "events", COLUMNS)
  const decisions = readWritten(written, "access_decisions", "seq, at, subject, action, resource, allowed, reason")
  written.close()
  if (events.rows.length !== WARMUP + MEASURED) throw new Error(`ours wrote ${events.rows.length} events`)
  if (decisions.rows.length !== events.rows.length) throw new Error(`access_decisions has ${decisions.rows.length} rows for ${events.rows.length} events`)

  // Same number of transactions (commits, fsyncs) as ours: the batch size ours achieved on average.
  const batch = Math.max(1, Math.round(meanBatch))
  const result = {
    ours: rate(MEASURED, ours.ms),
    baseline: rate(MEASURED, runBaseline(fresh("baseline"), [events], batch)),
    at64: rate(MEASURED, runBaseline(fresh("baseline-64"), [events], APPENDERS)),
    withViews: rate(MEASURED, runBaseline(fresh("baseline-views"), [events, decisions], batch)),
    batch,
    meanBatch,
    sizes
  }
  for (const name of files) for (const suffix of [".db", ".db-wal", ".db-shm"]) rmSync(tmp.file(`${name}-${index}${suffix}`), { force: true })
  console.log(
    `round ${index + 1}: ours ${fmt(result.ours)}, baseline ${fmt(result.withViews)} events/s (ratio ${(result.ours / result.withViews).toFixed(3)}); ` +
      `ours committed ${fmt(sizes.length)} transactions of ${meanBatch.toFixed(1)} events on average ` +
      `(min ${sizes[0]}, p50 ${percentile(sizes, 0.5)}, p90 ${percentile(sizes, 0.9)}, max ${sizes[sizes.length - 1]}); ` +
      `event rows alone ${fmt(result.baseline)}, at ${APPENDERS}/transaction ${fmt(result.at64)}`
  )
  return result
}

const main = async () => {
  const tmp = tempDir("append")
  try {
    console.log(`append: ${APPENDERS} concurrent appenders x ${PER_APPENDER} access_decided events = ${fmt(MEASURED)} per round (after ${fmt(WARMUP)} warm-up), ${ROUNDS} rounds`)
    console.log(`machine:  ${machine()}`)
    console.log(`durability: WAL, synchronous=FULL on both sides, fresh files in ${tmp.dir}`)
    console.log(`ours:     Kernel.storeLayer (hash chain + access_decisions projection), one event per append call, "any" version`)
    console.log(`baseline: raw better-sqlite3 writing the same rows ours wrote — each event row and its projection's access_decisions row,`)
    console.log(`          same DDL, same values (hashes, JSON text), prepared INSERTs — as many events per transaction as ours' average`)
    console.log(`          group-commit batch (measured below), so both do the same SQLite work and pay the same number of commits;`)
    console.log(`          what the ratio measures is everything ours adds: canonical JSON, the hash chain, ids, queueing, Effect`)
    const rounds: Array<Awaited<ReturnType<typeof round>>> = []
    for (let i = 0; i < ROUNDS; i++) rounds.push(await round(tmp, i))

    // Each round measures ours and its baselines back to back, so they share the disk's and the
    // machine's state; the figures reported are the round with the median ratio.
    const mid = [...rounds].sort((a, b) => a.ours / a.withViews - b.ours / b.withViews)[Math.floor(rounds.length / 2)]!
    const { ours, baseline, batch, at64, withViews } = mid
    const meanBatch = rounds.reduce((a, r) => a + r.meanBatch, 0) / rounds.length
    console.log(`median round: ours ${fmt(ours)} events/s, baseline ${fmt(withViews)} events/s at ${batch} events/transaction, ratio ${(ours / withViews).toFixed(3)} (target >= 0.5)`)
    console.log(
      `          same round, for reference: raw inserts of the event rows alone ${fmt(baseline)} events/s (ratio ${(ours / baseline).toFixed(3)}), ` +
        `and at ${APPENDERS} rows/transaction ${fmt(at64)} events/s`
    )
    printResult("append", ours, withViews, {
      batch,
      mean_batch: Number(meanBatch.toFixed(1)),
      baseline_at_64: Math.round(at64),
      baseline_events_only: Math.round(baseline),
      events: MEASURED,
      appenders: APPENDERS,
      rounds: ROUNDS
    })
  } finally {
    tmp.cleanup()
  }
}

await main()
