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
import { fmt, printResult, rate, tempDir } from "./lib.js"

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

/** Baseline: the same rows, values precomputed, inserted with one prepared statement, `batch` rows per transaction. */
const runBaseline = (filename: string, ddl: ReadonlyArray<string>, rows: ReadonlyArray<Array<unknown>>, batch: number) => {
  const db = new Database(filename)
  try {
    db.pragma("journal_mode = WAL")
    db.pragma("synchronous = FULL")
    for (const statement of ddl) db.exec(statement)
    const insert = db.prepare(INSERT)
    const insertRange = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) insert.run(rows[i]!)
    })
    const insertAll = (from: number, to: number) => {
      for (let i = from; i < to; i += batch) insertRange.immediate(i, Math.min(i + batch, to))
    }
    insertAll(0, WARMUP)
    const start = performance.now()
    insertAll(WARMUP, rows.length)
    return performance.now() - start
  } finally {
    db.close()
  }
}

/** One round: ours on a fresh file, then the baseline on fresh files with the rows ours wrote. */
const round = async (tmp: ReturnType<typeof tempDir>, index: number) => {
  const oursFile = tmp.file(`ours-${index}.db`)
  const ours = await runOurs(oursFile)
  if (ours.head.seq !== WARMUP + MEASURED) throw new Error(`expected head seq ${WARMUP + MEASURED}, got ${ours.head.seq}`)
  const sizes = [...ours.batches].sort((a, b) => a - b)
  const meanBatch = sizes.reduce((a, b) => a + b, 0) / sizes.length

  // The same rows and DDL the store wrote, read back from its file.
  const written = new Database(oursFile, { readonly: true })
  const ddl = written
    .prepare("SELECT sql FROM sqlite_master WHERE tbl_name = 'events' AND sql IS NOT NULL ORDER BY type = 'index', name")
    .pluck()
    .all() as Array<string>
  const rows = written.prepare(`SELECT ${COLUMNS} FROM events ORDER BY seq`).raw().all() as Array<Array<unknown>>
  const projected = written.prepare("SELECT count(*) FROM access_decisions").pluck().get() as number
  written.close()
  if (projected !== rows.length) throw new Error(`access_decisions has ${projected} rows for ${rows.length} events`)

  // Same number of transactions (fsyncs) as ours: the batch size ours achieved on average.
  const batch = Math.max(1, Math.round(meanBatch))
  const baselineMs = runBaseline(tmp.file(`baseline-${index}.db`), ddl, rows, batch)
  const at64Ms = runBaseline(tmp.file(`baseline-64-${index}.db`), ddl, rows, APPENDERS)
  for (const name of [`ours-${index}.db`, `baseline-${index}.db`, `baseline-64-${index}.db`]) {
    for (const suffix of ["", "-wal", "-shm"]) rmSync(tmp.file(name + suffix), { force: true })
  }
  const result = {
    ours: rate(MEASURED, ours.ms),
    baseline: rate(MEASURED, baselineMs),
    at64: rate(MEASURED, at64Ms),
    batch,
    meanBatch,
    sizes
  }
  console.log(
    `round ${index + 1}: ours ${fmt(result.ours)} events/s, baseline ${fmt(result.baseline)} events/s at ${batch} rows/transaction ` +
      `(${fmt(result.at64)} at ${APPENDERS}); ours committed ${fmt(sizes.length)} transactions of ${meanBatch.toFixed(1)} events on average ` +
      `(min ${sizes[0]}, p50 ${percentile(sizes, 0.5)}, p90 ${percentile(sizes, 0.9)}, max ${sizes[sizes.length - 1]})`
  )
  return result
}

const median = (xs: ReadonlyArray<number>) => percentile([...xs].sort((a, b) => a - b), 0.5)

const main = async () => {
  const tmp = tempDir("append")
  try {
    console.log(`append: ${APPENDERS} concurrent appenders x ${PER_APPENDER} access_decided events = ${fmt(MEASURED)} per round (after ${fmt(WARMUP)} warm-up), ${ROUNDS} rounds`)
    console.log(`durability: WAL, synchronous=FULL on both sides, fresh files in ${tmp.dir}`)
    console.log(`ours:     Kernel.storeLayer (hash chain + access_decisions projection), one event per append call, "any" version`)
    console.log(`baseline: raw better-sqlite3, the same DDL and the same row values (hashes, JSON text) ours wrote, one prepared INSERT,`)
    console.log(`          as many rows per transaction as ours' average group-commit batch, so both pay the same number of commits`)
    const rounds: Array<Awaited<ReturnType<typeof round>>> = []
    for (let i = 0; i < ROUNDS; i++) rounds.push(await round(tmp, i))

    // Rounds alternate ours and baseline so both see the same disk; medians damp fsync jitter.
    const ours = median(rounds.map((r) => r.ours))
    const baseline = median(rounds.map((r) => r.baseline))
    const meanBatch = rounds.reduce((a, r) => a + r.meanBatch, 0) / rounds.length
    const batch = median(rounds.map((r) => r.batch))
    console.log(`median:   ours ${fmt(ours)} events/s, baseline ${fmt(baseline)} events/s, ratio ${(ours / baseline).toFixed(3)} (target >= 0.5)`)
    printResult("append", ours, baseline, {
      batch,
      mean_batch: Number(meanBatch.toFixed(1)),
      baseline_at_64: Math.round(median(rounds.map((r) => r.at64))),
      events: MEASURED,
      appenders: APPENDERS,
      rounds: ROUNDS
    })
  } finally {
    tmp.cleanup()
  }
}

await main()
