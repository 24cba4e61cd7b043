/**
 * Past views on SQLite: the views as of seq N are built by replaying the log into a scratch
 * database — from the nearest snapshot at or before N when one exists.
 *
 * Snapshots are the views at every `snapshotEvery`-th seq, written while a replay passes that
 * seq. Each records the hash of its last event and is used only while the log still has that
 * event there: a log cut or rewritten before it makes it stale, and it is deleted.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { SqliteClient } from "@effect/sql-sqlite-node"
import Database from "better-sqlite3"
import { Clock, Deferred, type Duration, Effect, ExecutionStrategy, Exit, Layer, Scope } from "effect"
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs"
import { join } from "node:path"
import { EventStore, EventStoreError } from "./EventStore.js"
import { BeyondHead, PastViews } from "./PastViews.js"
import { Projector } from "./Projector.js"
import type { PastView } from "./ReadingAt.js"
import type { StoredEvent } from "./StoredEvent.js"
import { runNow, viewDbOf } from "./ViewDb.js"

export interface PastViewsOptions {
  /** Where scratch databases and snapshots are kept (`<data-dir>/past-views`). */
  readonly directory: string
  /** A snapshot every this many events (0: none). */
  readonly snapshotEvery?: number | undefined
  /**
   * Keep the snapshots up to date in the background (at start, then every `warmEvery`): a
   * replay to the last multiple of `snapshotEvery` the log has passed, so that a past view
   * needs at most `snapshotEvery` events replayed. Off unless given.
   */
  readonly warmEvery?: Duration.DurationInput | undefined
  /** Past views kept open for the next request. */
  readonly keep?: number | undefined
}

const PAGE = 5_000
const POSITION_DDL = "CREATE TABLE past_position (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL)"

/** The greatest multiple of `every` that is at most `seq` and has a snapshot, from the file names. */
export const nearestSnapshot = (available: ReadonlyArray<number>, seq: number): number | undefined => {
  let best: number | undefined
  for (const s of available) if (s <= seq && (best === undefined || s > best)) best = s
  return best
}

/** Snapshot seqs the replay from `from` (exclusive) to `to` (inclusive) passes: multiples of `every`. */
export const snapshotPoints = (from: number, to: number, every: number): ReadonlyArray<number> => {
  if (every <= 0) return []
  const out: Array<number> = []
  for (let s = (Math.floor(from / every) + 1) * every; s <= to; s += every) out.push(s)
  return out
}

const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

interface Open {
  readonly past: PastView
  readonly close: Effect.Effect<void>
}

export const make = (options: PastViewsOptions) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const projector = yield* Projector
    const every = options.snapshotEvery ?? 50_000
    const keep = Math.max(1, options.keep ?? 4)
    // each process its own scratch folder (a server and `annal views` may share the data
    // directory); those of processes no longer running are of no use
    mkdirSync(options.directory, { recursive: true, mode: 0o700 })
    for (const name of readdirSync(options.directory)) {
      const pid = /^scratch-(\d+)$/.exec(name)?.[1]
      if (pid !== undefined && !isRunning(Number(pid))) rmSync(join(options.directory, name), { recursive: true, force: true })
    }
    const scratchDir = join(options.directory, `scratch-${process.pid}`)
    const snapshotDir = join(options.directory, "snapshots")
    rmSync(scratchDir, { recursive: true, force: true })
    mkdirSync(scratchDir, { recursive: true, mode: 0o700 })
    mkdirSync(snapshotDir, { recursive: true, mode: 0o700 })
    let counter = 0

    const fail = (reason: string) => (cause: unknown) =>
      new EventStoreError({ reason: cause instanceof Error ? `${reason}: ${cause.message}` : reason, cause })

    const snapshotFile = (seq: number) => join(snapshotDir, `${seq}.db`)
    /**
     * Copies the scratch database as the snapshot at `seq`: written under a name of its own, then
     * renamed, so a reader never opens half a file and two processes writing it do not collide.
     */
    const writeSnapshot = (db: Database.Database, seq: number) => {
      const partial = join(scratchDir, `snapshot-${seq}-${++counter}.partial`)
      rmSync(partial, { force: true })
      db.exec(`VACUUM INTO '${partial.replace(/'/g, "''")}'`)
      renameSync(partial, snapshotFile(seq))
    }
    const snapshots = () =>
      readdirSync(snapshotDir).flatMap((name) => (/^\d+\.db$/.test(name) ? [Number(name.slice(0, -3))] : []))

    /** The hash the log has at `seq`, or undefined when it has no such event. */
    const hashAt = (seq: number) =>
      Effect.map(store.read(seq, seq), (events) => events[0]?.hash)

    /** When event `seq` was appended; before the first event, now. */
    const atOf = (seq: number) =>
      seq === 0 ? Clock.currentTimeMillis : Effect.map(store.read(seq, seq), (events) => (events[0] === undefined ? 0 : Date.parse(events[0].at)))

    /** The newest snapshot at or before `seq` that still matches the log; stale ones are deleted. */
    const usableSnapshot = (seq: number): Effect.Effect<number | undefined, EventStoreError> =>
      Effect.gen(function*() {
        const candidates = snapshots()
        while (true) {
          const s = nearestSnapshot(candidates, seq)
          if (s === undefined) return undefined
          const recorded = yield* Effect.try({
            try: () => {
              const db = new Database(snapshotFile(s), { readonly: true })
              try {
                return db.prepare("SELECT seq, hash FROM past_position WHERE id = 1").get() as { seq: number; hash: string } | undefined
              } finally {
                db.close()
              }
            },
            catch: () => undefined
          }).pipe(Effect.orElseSucceed(() => undefined))
          if (recorded !== undefined && recorded.seq === s && (yield* hashAt(s)) === recorded.hash) return s
          rmSync(snapshotFile(s), { force: true })
          candidates.splice(candidates.indexOf(s), 1)
        }
      })

    /**
     * Builds the views as of `seq` into `file`: a copy of the nearest snapshot, then the events
     * after it, writing a snapshot at each multiple of `every` it passes.
     */
    const build = (seq: number, file: string) =>
      Effect.gen(function*() {
        const head = (yield* store.head).seq
        if (seq > head) return yield* Effect.fail(new BeyondHead({ seq, head }))
        const from = (yield* usableSnapshot(seq)) ?? 0
        if (from > 0) yield* Effect.try({ try: () => copyFileSync(snapshotFile(from), file), catch: fail("could not copy a snapshot of the views") })
        const db = yield* Effect.try({ try: () => new Database(file), catch: fail("could not open a scratch database") })
        return yield* Effect.gen(function*() {
          db.pragma("journal_mode = OFF")
          db.pragma("synchronous = OFF")
          const views = viewDbOf(db)
          if (from === 0) {
            yield* Effect.try({
              try: () => {
                runNow(projector.prepare(views, () => Effect.void, { rebuildAll: true }))
                db.exec(POSITION_DDL)
                db.prepare("INSERT INTO past_position (id, seq, hash) VALUES (1, 0, '')").run()
              },
              catch: fail("could not create the views")
            })
          }
          const points = new Set(snapshotPoints(from, seq, every).filter((s) => !existsSync(snapshotFile(s))))
          const setPosition = db.prepare("UPDATE past_position SET seq = ?, hash = ? WHERE id = 1")
          let after = from
          // the time of the view's last event (the snapshot's, until a later one is replayed)
          let lastAt = yield* atOf(from)
          while (after < seq) {
            const events: ReadonlyArray<StoredEvent> = yield* store.read(after + 1, Math.min(after + PAGE, seq))
            if (events.length === 0) break
            yield* Effect.try({
              try: () => {
                // one transaction per page; committed before each snapshot (VACUUM INTO needs none open)
                db.exec("BEGIN")
                for (const event of events) {
                  runNow(projector.apply(event, views))
                  if (points.has(event.seq)) {
                    setPosition.run(event.seq, event.hash)
                    db.exec("COMMIT")
                    writeSnapshot(db, event.seq)
                    db.exec("BEGIN")
                  }
                }
                const last = events[events.length - 1]!
                setPosition.run(last.seq, last.hash)
                db.exec("COMMIT")
              },
              catch: (e) => {
                if (db.inTransaction) db.exec("ROLLBACK")
                return fail(`could not replay events ${after + 1}..${events[events.length - 1]!.seq} into the views`)(e)
              }
            })
            after = events[events.length - 1]!.seq
            lastAt = Date.parse(events[events.length - 1]!.at)
          }
          return { replayed: after - from, from, db, atMillis: lastAt }
        }).pipe(Effect.onError(() => Effect.sync(() => db.close())))
      })

    const scope = yield* Effect.scope
    const open = new Map<number, Deferred.Deferred<Open, BeyondHead | EventStoreError>>()

    const openAt = (seq: number): Effect.Effect<Open, BeyondHead | EventStoreError> =>
      Effect.gen(function*() {
        const file = join(scratchDir, `${seq}-${++counter}.db`)
        const built = yield* build(seq, file)
        const local = yield* Scope.fork(scope, ExecutionStrategy.sequential)
        const closeAll = Effect.zipRight(
          Scope.close(local, Exit.void),
          Effect.sync(() => {
            built.db.close()
            rmSync(file, { force: true })
          })
        )
        const sql = yield* SqliteClient.make({ filename: file, readonly: true, disableWAL: true }).pipe(
          Scope.extend(local),
          Effect.mapError(fail("could not open the past views")),
          Effect.onError(() => closeAll)
        )
        return { past: { seq, atMillis: built.atMillis, sql }, close: closeAll }
      }).pipe(Effect.provide(Reactivity.layer))

    const at = (seq: number) =>
      Effect.gen(function*() {
        const cached = open.get(seq)
        if (cached !== undefined) {
          // most recently used last
          open.delete(seq)
          open.set(seq, cached)
          return (yield* Deferred.await(cached)).past
        }
        const done = yield* Deferred.make<Open, BeyondHead | EventStoreError>()
        open.set(seq, done)
        const exit = yield* Effect.exit(openAt(seq))
        if (Exit.isFailure(exit)) open.delete(seq)
        yield* Deferred.done(done, exit)
        while (open.size > keep) {
          const [oldest, entry] = open.entries().next().value!
          open.delete(oldest)
          yield* Effect.flatMap(Deferred.await(entry), (o) => o.close).pipe(Effect.ignore)
        }
        return (yield* exit).past
      }).pipe(Effect.uninterruptible)

    yield* Effect.addFinalizer(() =>
      Effect.forEach([...open.values()], (d) => Effect.flatMap(Deferred.await(d), (o) => o.close).pipe(Effect.ignore), { discard: true }).pipe(
        Effect.zipRight(Effect.sync(() => rmSync(scratchDir, { recursive: true, force: true })))
      ))

    const writeAt = (seq: number, file: string) =>
      Effect.gen(function*() {
        const built = yield* build(seq, file)
        built.db.close()
        return { replayed: built.replayed, from: built.from }
      })

    /** Builds the snapshots the log has passed and lacks: one replay to the last of them. */
    const warm = Effect.gen(function*() {
      const head = (yield* store.head).seq
      const target = every > 0 ? Math.floor(head / every) * every : 0
      if (target === 0 || existsSync(snapshotFile(target))) return
      const file = join(scratchDir, `warm-${++counter}.db`)
      const started = yield* Clock.currentTimeMillis
      const built = yield* build(target, file)
      built.db.close()
      rmSync(file, { force: true })
      const took = (yield* Clock.currentTimeMillis) - started
      yield* Effect.logInfo(`past views: snapshots up to seq ${target} (${built.replayed} events replayed in ${took} ms)`)
    })
    if (options.warmEvery !== undefined) {
      // first after one interval: not competing with the start for the disk and the CPU
      yield* warm.pipe(
        Effect.catchAll((e) => Effect.logWarning(`past views: could not take snapshots: ${e.message}`)),
        Effect.delay(options.warmEvery),
        Effect.forever,
        Effect.forkScoped
      )
    }

    return PastViews.of({ at, writeAt })
  })

export const layer = (options: PastViewsOptions) => Layer.scoped(PastViews, make(options))
