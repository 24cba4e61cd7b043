/**
 * Reading the views as they stood after an earlier event. A request that asks for `?at_seq=N`
 * runs with `ReadingAt` set to views rebuilt as of seq N; every read of the views made inside it
 * (through the SqlClient the store provides) goes to them instead of the live views, so each
 * service answers about the past in its usual shape without knowing it. The store's own reads of the log never move.
 */
import { SqlClient } from "@effect/sql"
import type { Connection } from "@effect/sql/SqlConnection"
import * as Statement from "@effect/sql/Statement"
import type { SqliteClient } from "@effect/sql-sqlite-node"
import { Clock, Effect, FiberRef } from "effect"

/** The views as they stood right after event `seq`. */
export interface PastView {
  readonly seq: number
  /** When event `seq` was appended (epoch ms): "now" for what a read computes from the clock. */
  readonly atMillis: number
  readonly sql: SqlClient.SqlClient
}

/** Set only around a read of the past; undefined means the live views. */
export const ReadingAt: FiberRef.FiberRef<PastView | undefined> = FiberRef.unsafeMake<PastView | undefined>(undefined)

/** A clock stopped at `millis`; sleeping still takes real time. */
const stoppedAt = (millis: number, live: Clock.Clock): Clock.Clock => ({
  [Clock.ClockTypeId]: Clock.ClockTypeId,
  unsafeCurrentTimeMillis: () => millis,
  currentTimeMillis: Effect.succeed(millis),
  unsafeCurrentTimeNanos: () => BigInt(millis) * 1_000_000n,
  currentTimeNanos: Effect.succeed(BigInt(millis) * 1_000_000n),
  sleep: (duration) => live.sleep(duration)
})

/**
 * Runs `effect` reading the views as they stood after `past.seq`, with the clock stopped at that
 * event's time (a budget's remaining window, a cron job's next run are as they were then).
 */
export const readingAt =
  (past: PastView) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.clockWith((live) => Effect.withClock(Effect.locally(effect, ReadingAt, past), stoppedAt(past.atMillis, live)))

/**
 * The SqlClient the kernel reads its views through: `views` (a connection of the live views'
 * own, see ViewConnection), except inside `readingAt`, where each query goes to the past views'
 * client. Transactions always use the live client (nothing writes the past).
 */
export const routedClient = (live: SqliteClient.SqliteClient, views: Connection) =>
  SqlClient.make({
    acquirer: Effect.withFiberRuntime((fiber) => {
      const past = fiber.getFiberRef(ReadingAt)
      return past === undefined ? Effect.succeed(views) : past.sql.reserve
    }),
    transactionAcquirer: live.reserve,
    compiler: Statement.makeCompilerSqlite(),
    spanAttributes: [["db.system.name", "sqlite"]]
  })
