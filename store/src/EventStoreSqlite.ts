/**
 * The SQLite event log: one writer fiber group-commits queued appends on a dedicated
 * better-sqlite3 connection (prepared statements on the hot path); the kernel's view reads go
 * through the SqlClient on a connection of their own (ViewConnection), the store's own reads,
 * migrations and transactions through @effect/sql-sqlite-node's client (WAL lets all work at once).
 */
import * as Migrator from "@effect/sql/Migrator"
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import Database from "better-sqlite3"
import * as Reactivity from "@effect/experimental/Reactivity"
import { Chunk, Context, Deferred, Effect, Exit, FiberId, Layer, Option, Queue, Stream } from "effect"
import { canonicalJson, checkRow, GENESIS_HASH, hashOfCanonical } from "./Chain.js"
import {
  type AppendInput,
  EventStore,
  EventStoreError,
  StreamVersionConflict,
  SubscriberOverflow,
  type TailOptions,
  type VerifyResult
} from "./EventStore.js"
import { IdGenerator } from "./IdGenerator.js"
import { routedClient } from "./ReadingAt.js"
import * as ViewConnection from "./ViewConnection.js"
import { Projector } from "./Projector.js"
import { type EventRow, forEachStoredEvent, fromRow, type LogHead, type StoredEvent } from "./StoredEvent.js"
import { makeLogTree, openTree, TREE_DDL } from "./TreeSqlite.js"
import { runNow, type ViewDb, viewDbOf } from "./ViewDb.js"

export type Synchronous = "OFF" | "NORMAL" | "FULL" | "EXTRA"

export interface EventStoreSqliteConfig {
  /** Path of the database file (`<data-dir>/annal.db`). */
  readonly filename: string
  /** SQLite `synchronous`; FULL (the default) makes every acknowledged append survive power loss. */
  readonly synchronous?: Synchronous | undefined
  /** How long a connection waits on a lock held by another process, in ms. */
  readonly busyTimeoutMs?: number | undefined
  /** Most appends the writer commits in one transaction. */
  readonly maxBatch?: number | undefined
  /** Default live buffer per subscriber. */
  readonly subscriberBuffer?: number | undefined
}

/** How long a connection waits on a lock another process holds, unless configured (ms). */
const DEFAULT_BUSY_TIMEOUT_MS = 5000

const EVENT_TYPE = /^[a-z][a-z0-9_]*$/
const isJsonObject = (u: unknown): u is Record<string, unknown> => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) return false
  const proto = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}

const migrations = Migrator.fromRecord({
  "0001_events": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE events (
      seq INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      stream TEXT NOT NULL,
      version INTEGER NOT NULL,
      type TEXT NOT NULL,
      actor TEXT NOT NULL,
      at TEXT NOT NULL,
      data TEXT NOT NULL CHECK (json_type(data) = 'object'),
      meta TEXT NOT NULL CHECK (json_type(meta) = 'object'),
      prev_hash TEXT NOT NULL,
      hash TEXT NOT NULL,
      UNIQUE (stream, version)
    )`
    yield* sql`CREATE INDEX events_type ON events (type, seq)`
    yield* sql`CREATE INDEX events_actor ON events (actor, seq)`
    yield* sql`CREATE TABLE event_idempotency (
      key TEXT PRIMARY KEY,
      first_seq INTEGER NOT NULL,
      last_seq INTEGER NOT NULL
    )`
  }),
  // the tree of an existing log is built from its chain hashes when the store opens (openTree)
  "0002_merkle_tree": Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.forEach(TREE_DDL, (ddl) => sql.unsafe(ddl), { discard: true })),
  // the position the views reflect, written in each append's transaction (a log older than this
  // table starts with its views taken to be at its head)
  "0003_views_position": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE views_position (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL)`
    yield* sql`INSERT INTO views_position (id, seq, hash)
      SELECT 1, COALESCE(MAX(seq), 0), COALESCE((SELECT hash FROM events ORDER BY seq DESC LIMIT 1), ${GENESIS_HASH}) FROM events`
  })
})

const runMigrations = Migrator.make({})({ loader: migrations, table: "store_migrations" })

interface AppendJob {
  readonly _tag: "Append"
  readonly input: AppendInput
  readonly done: Deferred.Deferred<ReadonlyArray<StoredEvent>, StreamVersionConflict | EventStoreError>
}
interface ViewsJob {
  readonly _tag: "Views"
  readonly run: (db: ViewDb) => Effect.Effect<unknown>
  readonly done: Deferred.Deferred<unknown, EventStoreError>
}
interface BarrierJob {
  readonly _tag: "Barrier"
  readonly done: Deferred.Deferred<void, EventStoreError>
}
type Job = AppendJob | ViewsJob | BarrierJob

/** Marks the end of a subscriber's live events: it fell too far behind and was cut off. */
const OVERFLOW = Symbol("overflow")

interface Subscriber {
  readonly queue: Queue.Queue<StoredEvent | typeof OVERFLOW>
  readonly capacity: number
  readonly onCut: (() => void) | undefined
  readonly relay: boolean
}

/** What the open found when the views did not reflect the log's head. */
const viewsOutOfStep = (views: LogHead, log: LogHead) =>
  views.seq > log.seq
    ? `the views reflected seq ${views.seq} but the log ends at seq ${log.seq} (its tail was cut or an older copy restored): every view was rebuilt from the log`
    : views.seq < log.seq
    ? `the views reflected seq ${views.seq} but the log ends at seq ${log.seq}: every view was rebuilt from the log`
    : `the views reflected another event at seq ${views.seq} (hash ${views.hash}, the log has ${log.hash}): every view was rebuilt from the log`

const storeError = (reason: string, cause?: unknown) =>
  new EventStoreError({ reason: cause instanceof Error ? `${reason}: ${cause.message}` : reason, cause })

/** Opens the writer connection with the log's pragmas. */
const openWriter = (config: EventStoreSqliteConfig): Database.Database => {
  const db = new Database(config.filename)
  db.pragma("journal_mode = WAL")
  db.pragma(`synchronous = ${config.synchronous ?? "FULL"}`)
  db.pragma(`busy_timeout = ${config.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS}`)
  db.pragma("foreign_keys = ON")
  return db
}

/**
 * Builds the EventStore over an open SqlClient (reads, migrations) and a Projector. An event's
 * `at` is the `Clock`'s time when its append is written and its id comes from the IdGenerator,
 * so a test moves time with `TestClock` and a replay can give the recorded ids.
 */
export const make = (config: EventStoreSqliteConfig) =>
  Effect.gen(function*() {
    // the live client: the store's own reads of the log never go to past views (see ReadingAt)
    const sql = yield* SqliteClient.SqliteClient
    const projector = yield* Projector
    const ids = yield* IdGenerator
    const clock = yield* Effect.clock
    yield* sql.unsafe(`PRAGMA busy_timeout = ${config.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS}`).pipe(
      Effect.mapError((e) => storeError("could not configure the database", e))
    )
    yield* runMigrations.pipe(Effect.mapError((e) => storeError("could not migrate the event log", e)))

    const db = yield* Effect.acquireRelease(
      Effect.try({ try: () => openWriter(config), catch: (e) => storeError("could not open the event log", e) }),
      (db) => Effect.sync(() => db.close())
    )
    const views = viewDbOf(db)
    const maxBatch = config.maxBatch ?? 512
    const defaultBuffer = config.subscriberBuffer ?? 4096

    const stmt = {
      insert: db.prepare(
        "INSERT INTO events (seq, id, stream, version, type, actor, at, data, meta, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
      ),
      streamVersion: db.prepare("SELECT version FROM events WHERE stream = ? ORDER BY version DESC LIMIT 1").pluck(),
      idemGet: db.prepare("SELECT first_seq, last_seq FROM event_idempotency WHERE key = ?"),
      idemPut: db.prepare("INSERT INTO event_idempotency (key, first_seq, last_seq) VALUES (?, ?, ?)"),
      range: db.prepare("SELECT * FROM events WHERE seq BETWEEN ? AND ? ORDER BY seq"),
      head: db.prepare("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1"),
      viewsAt: db.prepare("SELECT seq, hash FROM views_position WHERE id = 1"),
      setViewsAt: db.prepare("UPDATE views_position SET seq = ?, hash = ? WHERE id = 1"),
      forgetKeysAfter: db.prepare("DELETE FROM event_idempotency WHERE last_seq > ?"),
      begin: db.prepare("BEGIN IMMEDIATE"),
      commit: db.prepare("COMMIT"),
      rollback: db.prepare("ROLLBACK"),
      savepoint: db.prepare("SAVEPOINT append"),
      release: db.prepare("RELEASE append"),
      rollbackTo: db.prepare("ROLLBACK TO append")
    }

    const readHead = (): LogHead => {
      const row = stmt.head.get() as { seq: number; hash: string } | undefined
      return row === undefined ? { seq: 0, hash: GENESIS_HASH } : { seq: row.seq, hash: row.hash }
    }

    // The projections see every stored event before the first append. Views written in the same
    // transactions as the log can only be out of step with it when the log was changed behind the
    // store's back (its tail cut, an older copy put in place): then they are built again from the
    // log, and idempotency keys of events the log no longer holds are forgotten.
    const repairedAtOpen = yield* Effect.try({
      try: () =>
        db.transaction(() => {
          const logHead = readHead()
          const viewsAt = stmt.viewsAt.get() as LogHead | undefined
          const outOfStep = viewsAt !== undefined && (viewsAt.seq !== logHead.seq || viewsAt.hash !== logHead.hash)
          const repairs = outOfStep ? [viewsOutOfStep(viewsAt, logHead)] : []
          if (outOfStep) {
            const forgotten = stmt.forgetKeysAfter.run(logHead.seq).changes
            if (forgotten > 0) repairs.push(`${forgotten} idempotency ${forgotten === 1 ? "key" : "keys"} of events after seq ${logHead.seq} forgotten`)
          }
          runNow(projector.prepare(views, (apply) => Effect.asVoid(forEachStoredEvent(views, apply)), { rebuildAll: outOfStep }))
          stmt.setViewsAt.run(logHead.seq, logHead.hash)
          return repairs
        })(),
      catch: (e) => storeError("could not prepare the views", e)
    })
    for (const repair of repairedAtOpen) yield* Effect.logWarning(`event log: ${repair}`)

    const tree = yield* Effect.try({ try: () => openTree(db), catch: (e) => storeError("could not open the log's Merkle tree", e) })
    let head = readHead()
    const subscribers = new Set<Subscriber>()
    /** Subscribers among them that relay to clients of their own (not counted). */
    let relays = 0

    // Stream versions of recent appends, so the hot path skips a lookup. This process is the only
    // writer; entries are dropped whenever a transaction or savepoint rolls back.
    const versions = new Map<string, number>()
    const remember = (stream: string, version: number) => {
      versions.delete(stream)
      versions.set(stream, version)
      if (versions.size > 10_000) versions.delete(versions.keys().next().value!)
    }

    /** Appends inside the open transaction; throws on any failure (the caller rolls back). */
    const appendOne = (input: AppendInput, from: LogHead): { events: Array<StoredEvent>; fresh: boolean } => {
      const key = input.meta?.idempotency_key
      if (key !== undefined) {
        const seen = stmt.idemGet.get(key) as { first_seq: number; last_seq: number } | undefined
        if (seen !== undefined) {
          return { events: (stmt.range.all(seen.first_seq, seen.last_seq) as Array<EventRow>).map(fromRow), fresh: false }
        }
      }
      if (typeof input.stream !== "string" || input.stream.length === 0) throw storeError("stream must be a non-empty string")
      if (input.events.length === 0) throw storeError("an append needs at least one event")
      const current = versions.get(input.stream) ?? ((stmt.streamVersion.get(input.stream) as number | undefined) ?? 0)
      if (input.expectedVersion !== "any" && input.expectedVersion !== current) {
        throw new StreamVersionConflict({ stream: input.stream, expected: input.expectedVersion, actual: current })
      }
      const meta = canonicalJson(input.meta ?? {})
      const nowMs = clock.unsafeCurrentTimeMillis()
      const at = new Date(nowMs).toISOString()
      const out: Array<StoredEvent> = []
      let prev = from
      for (let i = 0; i < input.events.length; i++) {
        const draft = input.events[i]!
        if (!EVENT_TYPE.test(draft.type)) throw storeError(`event type ${JSON.stringify(draft.type)} is not snake_case`)
        if (!isJsonObject(draft.data)) throw storeError(`event ${draft.type}: data must be a JSON object`)
        const data = canonicalJson(draft.data)
        const fields = {
          seq: prev.seq + 1,
          id: ids.unsafeNext(nowMs),
          stream: input.stream,
          version: current + i + 1,
          type: draft.type,
          actor: input.actor,
          at
        }
        const hash = hashOfCanonical(fields, data, meta, prev.hash)
        stmt.insert.run(fields.seq, fields.id, fields.stream, fields.version, fields.type, fields.actor, at, data, meta, prev.hash, hash)
        tree.add(hash)
        const event: StoredEvent = {
          ...fields,
          data: JSON.parse(data),
          meta: JSON.parse(meta),
          prev_hash: prev.hash,
          hash
        }
        runNow(projector.apply(event, views))
        out.push(event)
        prev = { seq: fields.seq, hash }
      }
      if (key !== undefined) stmt.idemPut.run(key, out[0]!.seq, out[out.length - 1]!.seq)
      remember(input.stream, current + out.length)
      return { events: out, fresh: true }
    }

    type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: StreamVersionConflict | EventStoreError }

    const toError = (e: unknown): StreamVersionConflict | EventStoreError =>
      e instanceof StreamVersionConflict || e instanceof EventStoreError ? e : storeError("append failed", e)

    /** Runs one job inside the open transaction; throws when it fails. */
    const runJob = (job: Job, local: LogHead, published: Array<StoredEvent>): { value: unknown; head: LogHead } => {
      if (job._tag === "Views") return { value: runNow(job.run(views)), head: local }
      if (job._tag === "Barrier") return { value: undefined, head: local }
      const { events, fresh } = appendOne(job.input, local)
      if (!fresh) return { value: events, head: local }
      published.push(...events)
      const last = events[events.length - 1]!
      return { value: events, head: { seq: last.seq, hash: last.hash } }
    }

    /**
     * One transaction for the whole batch. The common case, where every job succeeds, runs
     * without savepoints; if any job fails the batch is rolled back and run again with a
     * savepoint per job, so that job fails alone and the others still commit.
     */
    const runBatch = (jobs: ReadonlyArray<Job>): { outcomes: Array<Outcome>; published: Array<StoredEvent> } => {
      const attempt = (isolated: boolean) => {
        const outcomes: Array<Outcome> = []
        const published: Array<StoredEvent> = []
        let local = head
        tree.begin()
        stmt.begin.run()
        for (const job of jobs) {
          if (!isolated) {
            const done = runJob(job, local, published)
            local = done.head
            outcomes.push({ ok: true, value: done.value })
            continue
          }
          stmt.savepoint.run()
          const before = published.length
          const treeBefore = tree.mark()
          try {
            const done = runJob(job, local, published)
            local = done.head
            outcomes.push({ ok: true, value: done.value })
            stmt.release.run()
          } catch (e) {
            published.length = before
            tree.resetTo(treeBefore)
            versions.clear()
            stmt.rollbackTo.run()
            stmt.release.run()
            outcomes.push({ ok: false, error: toError(e) })
          }
        }
        tree.flush()
        if (local.seq !== head.seq) stmt.setViewsAt.run(local.seq, local.hash)
        stmt.commit.run()
        tree.committed()
        head = local
        return { outcomes, published }
      }
      try {
        try {
          return attempt(false)
        } catch {
          if (db.inTransaction) stmt.rollback.run()
          versions.clear()
          return attempt(true)
        }
      } catch (e) {
        if (db.inTransaction) stmt.rollback.run()
        versions.clear()
        const error = storeError("could not commit to the event log", e)
        return { outcomes: jobs.map(() => ({ ok: false, error })), published: [] }
      }
    }

    /**
     * Hands committed events to every live subscriber. One still holding more than its capacity
     * from earlier batches is behind: it gets the overflow mark instead and leaves the set. A
     * single batch may exceed a capacity, so memory is bounded by capacity plus one batch.
     */
    const publish = (events: ReadonlyArray<StoredEvent>) => {
      if (events.length === 0 || subscribers.size === 0) return
      for (const sub of subscribers) {
        if (Option.getOrElse(sub.queue.unsafeSize(), () => 0) > sub.capacity) {
          if (subscribers.delete(sub) && sub.relay) relays--
          Queue.unsafeOffer(sub.queue, OVERFLOW)
          sub.onCut?.()
          continue
        }
        for (const event of events) Queue.unsafeOffer(sub.queue, event)
      }
    }

    const jobs = yield* Queue.unbounded<Job>()

    let closed = false

    const writer = Effect.gen(function*() {
      while (true) {
        // An idle writer is handed the first job alone (`takeBetween` would stop there). It lets
        // the fibers that are ready run first, up to their own wait: what they queue meanwhile
        // joins the same batch and commit, instead of each paying for one of its own.
        const first = yield* Queue.take(jobs)
        // a store closing meanwhile fails the job it holds, as it fails those still queued
        yield* Effect.onInterrupt(Effect.yieldNow(), () =>
          Effect.sync(() => Deferred.unsafeDone(first.done as Deferred.Deferred<unknown, EventStoreError>, Exit.fail(storeError("the event log is closing")))))
        const batch = [first, ...Chunk.toReadonlyArray(yield* Queue.takeUpTo(jobs, maxBatch - 1))]
        // barriers alone need no transaction: everything queued before them is decided
        if (batch.every((job) => job._tag === "Barrier")) {
          for (const job of batch) Deferred.unsafeDone(job.done as Deferred.Deferred<void, EventStoreError>, Exit.void)
          continue
        }
        const { outcomes, published } = runBatch(batch)
        publish(published)
        for (let i = 0; i < batch.length; i++) {
          const job = batch[i]!
          const outcome = outcomes[i]!
          const done = job.done as Deferred.Deferred<unknown, StreamVersionConflict | EventStoreError>
          Deferred.unsafeDone(done, outcome.ok ? Exit.succeed(outcome.value) : Exit.fail(outcome.error))
        }
      }
    })
    yield* Effect.forkScoped(writer)
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        closed = true
        const left = yield* Queue.takeAll(jobs)
        for (const job of left) {
          Deferred.unsafeDone(job.done as Deferred.Deferred<unknown, EventStoreError>, Exit.fail(storeError("the event log is closing")))
        }
      })
    )

    // The hot path of every append: no generator, no extra fibers, just a queued job to await.
    const queue = <A, E>(make: (done: Deferred.Deferred<A, E>) => Job): Effect.Effect<A, E> => {
      if (closed) return Effect.fail(storeError("the event log is closed") as E)
      const done = Deferred.unsafeMake<A, E>(FiberId.none)
      Queue.unsafeOffer(jobs, make(done))
      return Deferred.await(done)
    }
    const submit = <A, E>(make: (done: Deferred.Deferred<A, E>) => Job): Effect.Effect<A, E> => Effect.suspend(() => queue(make))

    const appendJob = (input: AppendInput) => (done: Deferred.Deferred<ReadonlyArray<StoredEvent>, StreamVersionConflict | EventStoreError>): Job => ({
      _tag: "Append",
      input,
      done
    })
    const append = (input: AppendInput) => submit(appendJob(input))
    const enqueue = (input: AppendInput) => Effect.sync(() => queue(appendJob(input)))
    // a job like the others, so it is decided after every one queued before it
    const settled = Effect.catchAll(submit<void, EventStoreError>((done) => ({ _tag: "Barrier", done })), () => Effect.void)

    // Synchronous between appends: the writer's transactions never span a yield, so this sees
    // exactly the committed appends.
    const version = (stream: string) =>
      Effect.try({
        try: () => versions.get(stream) ?? ((stmt.streamVersion.get(stream) as number | undefined) ?? 0),
        catch: (e) => storeError(`could not read the version of ${stream}`, e)
      })

    const withViews = <A>(f: (db: ViewDb) => Effect.Effect<A>) =>
      submit<A, EventStoreError>((done) => ({ _tag: "Views", run: f, done: done as Deferred.Deferred<unknown, EventStoreError> }))

    const sqlError = (what: string) => (e: unknown) => storeError(what, e)

    const read = (fromSeq: number, toSeq: number) =>
      sql<EventRow>`SELECT * FROM events WHERE seq >= ${fromSeq} AND seq <= ${toSeq} ORDER BY seq`.pipe(
        Effect.map((rows) => rows.map(fromRow)),
        Effect.mapError(sqlError("could not read the event log"))
      )

    const applied = (key: string) =>
      sql<EventRow>`SELECT e.* FROM event_idempotency i JOIN events e ON e.seq BETWEEN i.first_seq AND i.last_seq
        WHERE i.key = ${key} ORDER BY e.seq`.pipe(
        Effect.map((rows) => (rows.length === 0 ? undefined : rows.map(fromRow))),
        Effect.mapError(sqlError("could not read the event log"))
      )

    const readStream = (stream: string) =>
      sql<EventRow>`SELECT * FROM events WHERE stream = ${stream} ORDER BY version`.pipe(
        Effect.map((rows) => rows.map(fromRow)),
        Effect.mapError(sqlError("could not read the event log"))
      )

    const rowsAfter = (afterSeq: number, pageSize: number) =>
      Stream.paginateChunkEffect(afterSeq, (after) =>
        sql<EventRow>`SELECT * FROM events WHERE seq > ${after} ORDER BY seq LIMIT ${pageSize}`.pipe(
          Effect.mapError(sqlError("could not read the event log")),
          Effect.map((rows) => [
            Chunk.unsafeFromArray(rows),
            rows.length < pageSize ? Option.none() : Option.some(rows[rows.length - 1]!.seq)
          ] as const)
        ))

    const readAll = (afterSeq: number, pageSize = 1000) => Stream.map(rowsAfter(afterSeq, pageSize), fromRow)

    const subscribe = (capacity: number, onCut: (() => void) | undefined, relay: boolean) =>
      Effect.acquireRelease(
        Effect.gen(function*() {
          const sub: Subscriber = { queue: yield* Queue.unbounded<StoredEvent | typeof OVERFLOW>(), capacity, onCut, relay }
          subscribers.add(sub)
          if (relay) relays++
          return sub
        }),
        (sub) =>
          Effect.sync(() => {
            if (subscribers.delete(sub) && sub.relay) relays--
          }).pipe(Effect.zipRight(Queue.shutdown(sub.queue)))
      )

    const tail = (afterSeq: number, options?: TailOptions) => {
      const capacity = options?.buffer ?? defaultBuffer
      let last = afterSeq
      const fresh = Stream.mapChunks((chunk: Chunk.Chunk<StoredEvent>) =>
        Chunk.filter(chunk, (event) => {
          if (event.seq <= last) return false
          last = event.seq
          return true
        })
      )
      // Catch up without holding a live buffer, then subscribe and fill the race window from
      // SQLite; live events at or below what was already delivered are dropped. Events queued
      // before an overflow mark are still delivered, so `lastSeq` is exactly where to resume.
      const catchUp = Stream.suspend(() => readAll(last)).pipe(fresh)
      const live = Stream.unwrapScoped(
        Effect.map(subscribe(capacity, options?.onCut, options?.relay === true), (sub) =>
          Stream.concat(
            Stream.suspend(() => readAll(last)),
            Stream.fromQueue(sub.queue).pipe(Stream.takeWhile((item): item is StoredEvent => item !== OVERFLOW))
          ).pipe(
            fresh,
            Stream.concat(Stream.suspend(() => Stream.fail(new SubscriberOverflow({ lastSeq: last, capacity }))))
          ))
      )
      return Stream.concat(catchUp, live)
    }

    const verify = Effect.gen(function*() {
      let prev = GENESIS_HASH
      let position = 0
      let brokenAt: VerifyResult | undefined
      yield* rowsAfter(0, 5000).pipe(
        Stream.runForEachChunk((chunk) =>
          Effect.sync(() => {
            for (const row of chunk) {
              position++
              if (brokenAt === undefined) {
                const broken = checkRow(row, position, prev)
                if (broken !== undefined) brokenAt = { valid: false, entry_count: 0, ...broken }
                prev = row.hash
              }
            }
          })
        )
      )
      if (brokenAt !== undefined) return { ...brokenAt, entry_count: position } as VerifyResult
      return { valid: true, entry_count: position, head: { seq: position, hash: prev } } as VerifyResult
    })

    return EventStore.of({
      append,
      enqueue,
      settled,
      applied,
      read,
      readStream,
      readAll,
      tail,
      head: Effect.sync(() => head),
      verify,
      tree: makeLogTree(tree),
      withViews,
      version,
      subscriberCount: Effect.sync(() => subscribers.size - relays),
      repairedAtOpen
    })
  })

/**
 * The EventStore on its own SQLite file, with the SqlClient the kernel reads its views through
 * (routed to past views inside `readingAt`) and the live SqliteClient.
 */
export const layer = (
  config: EventStoreSqliteConfig
): Layer.Layer<EventStore | SqlClient.SqlClient | SqliteClient.SqliteClient, EventStoreError, Projector | IdGenerator> => {
  const clients = Layer.scopedContext(
    Effect.gen(function*() {
      const live = yield* SqliteClient.make({ filename: config.filename })
      const routed = yield* routedClient(live, yield* ViewConnection.make(config.filename, config.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS))
      return Context.make(SqliteClient.SqliteClient, live).pipe(Context.add(SqlClient.SqlClient, routed))
    })
  ).pipe(Layer.mapError((e) => storeError("could not open the database", e)), Layer.provide(Reactivity.layer))
  return Layer.scoped(EventStore, make(config)).pipe(Layer.provideMerge(clients))
}
