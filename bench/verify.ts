/**
 * Chain verification throughput: `EventStore.verify` over a log of 1,000,000 events against a
 * plain better-sqlite3 loop that reads the same rows and hashes each one.
 *
 *   npm run bench:verify
 */
import { Chain, type EventRow, EventStore, EventStoreSqlite, IdGenerator, Projector } from "@annal/store"
import Database from "better-sqlite3"
import { Effect, Layer } from "effect"
import { createHash } from "node:crypto"
import { statSync } from "node:fs"
import { fmt, machine, printResult, rate, tempDir, timed } from "./lib.js"

const EVENTS = 1_000_000
const STREAMS = 64
const SETUP_TRANSACTION = 50_000

const storeLayer = (filename: string) => EventStoreSqlite.layer({ filename }).pipe(Layer.provide(Layer.merge(Projector.none, IdGenerator.layer)))

/** Ordered, v7-shaped ids (the store's are uuid v7, so index inserts land at the end as here). */
const idOf = (seq: number) => `0193a000-0000-7000-8000-${seq.toString(16).padStart(12, "0")}`

/**
 * Writes the log row by row as the store would (same canonical JSON, same chain hash), but in
 * large transactions with synchronous=OFF: setup only, not what is measured.
 */
const buildLog = (filename: string) => {
  const db = new Database(filename)
  try {
    db.pragma("journal_mode = WAL")
    db.pragma("synchronous = OFF")
    const insert = db.prepare(
      "INSERT INTO events (seq, id, stream, version, type, actor, at, data, meta, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    const versions = new Array<number>(STREAMS).fill(0)
    const start = Date.parse("2025-01-01T00:00:00.000Z")
    let prev = Chain.GENESIS_HASH
    const write = db.transaction((from: number, to: number) => {
      for (let seq = from; seq < to; seq++) {
        const agent = seq % STREAMS
        const subject = `agent-${agent}`
        const allowed = seq % 5 !== 0
        const data = Chain.canonicalJson({
          subject,
          action: seq % 2 === 0 ? "use_tool:exec" : "access_path:/workspace",
          resource: `/workspace/${subject}/notes-${seq}.md`,
          allowed,
          reason: allowed ? null : "not in the agent's allowlist"
        })
        const meta = seq % 10 === 0 ? Chain.canonicalJson({ correlation_id: `req-${seq}` }) : "{}"
        const fields = {
          seq,
          id: idOf(seq),
          stream: `access-${subject}`,
          version: ++versions[agent]!,
          type: "access_decided",
          actor: `agent:${subject}`,
          at: new Date(start + seq).toISOString()
        }
        const hash = Chain.hashOfCanonical(fields, data, meta, prev)
        insert.run(fields.seq, fields.id, fields.stream, fields.version, fields.type, fields.actor, fields.at, data, meta, prev, hash)
        prev = hash
      }
    })
    for (let from = 1; from <= EVENTS; from += SETUP_TRANSACTION) write(from, Math.min(from + SETUP_TRANSACTION, EVENTS + 1))
    db.pragma("wal_checkpoint(TRUNCATE)")
    return prev
  } finally {
    db.close()
  }
}

/** Baseline: read every row with `.iterate()` and compute sha256 of the row serialised as JSON; nothing else. */
const hashRows = (filename: string) => {
  const db = new Database(filename, { readonly: true })
  try {
    let rows = 0
    let last = ""
    for (const row of db.prepare("SELECT * FROM events ORDER BY seq").iterate()) {
      last = createHash("sha256").update(JSON.stringify(row), "utf8").digest("hex")
      rows++
    }
    return { rows, last }
  } finally {
    db.close()
  }
}

/**
 * For reference: the chain check over the stored text (hashOfCanonical on data and meta as
 * stored, prev_hash linkage), i.e. verify without parsing and re-canonicalising the JSON.
 */
const chainOverStoredText = (filename: string) => {
  const db = new Database(filename, { readonly: true })
  try {
    let prev = Chain.GENESIS_HASH
    let rows = 0
    for (const r of db.prepare("SELECT * FROM events ORDER BY seq").iterate() as IterableIterator<EventRow>) {
      if (r.prev_hash !== prev || Chain.hashOfCanonical(r, r.data, r.meta, prev) !== r.hash) throw new Error(`chain breaks at ${r.seq}`)
      prev = r.hash
      rows++
    }
    return rows
  } finally {
    db.close()
  }
}

const main = async () => {
  const tmp = tempDir("verify")
  const filename = tmp.file("log.db")
  try {
    console.log(`machine:  ${machine()}`)
    console.log(`verify: a log of ${fmt(EVENTS)} access_decided events over ${STREAMS} streams, in ${tmp.dir}`)

    // The store creates its schema; then the rows go in directly.
    await Effect.runPromise(Effect.scoped(Layer.build(storeLayer(filename))))
    const setup = timed(() => buildLog(filename))
    console.log(
      `setup:    wrote ${fmt(EVENTS)} rows with Chain.hashOfCanonical in ${(setup.ms / 1000).toFixed(1)} s ` +
        `(${fmt(rate(EVENTS, setup.ms))} rows/s, synchronous=OFF), file ${fmt(statSync(filename).size / 1024 / 1024)} MiB`
    )

    const peakBefore = process.resourceUsage().maxRSS
    const ours = await Effect.runPromise(
      Effect.gen(function*() {
        const store = yield* EventStore
        const start = performance.now()
        const result = yield* store.verify
        return { result, ms: performance.now() - start }
      }).pipe(Effect.provide(storeLayer(filename)))
    )
    if (!ours.result.valid || ours.result.entry_count !== EVENTS || ours.result.head.hash !== setup.value) {
      throw new Error(`verify did not accept the log: ${JSON.stringify(ours.result)}`)
    }
    const oursRate = rate(EVENTS, ours.ms)
    const peakAfter = process.resourceUsage().maxRSS
    console.log(
      `ours:     ${fmt(oursRate)} events/s  (${(ours.ms / 1000).toFixed(2)} s; EventStore.verify: valid, entry_count ${fmt(ours.result.entry_count)}; ` +
        `pages of 5,000 rows through @effect/sql, JSON.parse + RFC 8785 re-canonicalisation + sha256 per row)`
    )

    const baseline = timed(() => hashRows(filename))
    if (baseline.value.rows !== EVENTS) throw new Error(`baseline read ${baseline.value.rows} rows`)
    const baselineRate = rate(EVENTS, baseline.ms)
    console.log(
      `baseline: ${fmt(baselineRate)} events/s  (${(baseline.ms / 1000).toFixed(2)} s; better-sqlite3 .iterate() over SELECT * ORDER BY seq, ` +
        `sha256(JSON.stringify(row)) per row, no chain logic)`
    )

    const stored = timed(() => chainOverStoredText(filename))
    console.log(
      `          for reference, the chain check over the stored text (no JSON.parse, no re-canonicalisation): ` +
        `${fmt(rate(stored.value, stored.ms))} events/s`
    )
    console.log(
      `ratio:    ${(oursRate / baselineRate).toFixed(3)}; peak RSS ${fmt(peakBefore / 1024)} MiB before verify, ` +
        `${fmt(peakAfter / 1024)} MiB after`
    )

    printResult("verify", oursRate, baselineRate, {
      events: EVENTS,
      stored_text_chain_check: Math.round(rate(stored.value, stored.ms))
    })
  } finally {
    tmp.cleanup()
  }
}

await main()
