/** The audit trail: the event log read as audit entries, and its verification. */
import { SqlClient } from "@effect/sql"
import type { AuditEntry } from "@annal/spec"
import { EventStore, EventStoreError, EventRow, fromRow, type StoredEvent, type VerifyResult } from "@annal/store"
import { Context, Effect, Layer, Ref } from "effect"
import type { LogCheckReport } from "../log/LogCheck.js"
import { TransparencyLog } from "../log/TransparencyLog.js"
import { renderHash, toAuditEntry } from "./AuditEntry.js"
import { commandsOf } from "../shared/Command.js"

/** Most entries one range query returns; ask again from the next seq for more. */
export const MAX_RANGE = 1000

/** The check against the signed checkpoints: each checkpoint found, the log's head, what is wrong. */
export interface CheckpointVerification {
  readonly ok: boolean
  readonly problems: ReadonlyArray<string>
  readonly checkpoints: ReadonlyArray<{ readonly source: string; readonly path: string; readonly size: number; readonly root: string }>
  readonly head: { readonly seq: number; readonly hash: string }
}

export interface AuditVerification {
  /** The chain links and the log is consistent with every checkpoint. */
  readonly valid: boolean
  readonly entry_count: number
  readonly broken_at_seq?: number
  readonly expected?: string
  readonly found?: string
  readonly reason?: string
  readonly checkpoint?: CheckpointVerification
}

/** The checkpoint check in the API's shape. */
export const renderCheckpointCheck = (report: LogCheckReport): CheckpointVerification => ({
  ok: report.ok,
  problems: report.problems,
  checkpoints: report.checkpoints.map(({ path, root, size, source }) => ({ source, path, size, root })),
  head: { seq: report.head.seq, hash: report.head.hash }
})

/**
 * The chain walk and the checkpoint check together: invalid when either fails; a log whose
 * chain links but that is shorter than, or inconsistent with, a checkpoint names the problem.
 */
export const withCheckpointCheck = (chain: AuditVerification, report: LogCheckReport): AuditVerification => {
  const checkpoint = renderCheckpointCheck(report)
  if (!chain.valid || report.ok) return { ...chain, valid: chain.valid && report.ok, checkpoint }
  return { ...chain, valid: false, reason: report.problems.join("; "), checkpoint }
}

/** A verification and where its chain walk began: 1 for the whole chain, after a checkpoint's size for the start-up check. */
export interface RecordedVerification {
  readonly result: AuditVerification
  readonly fromSeq: number
}

/** A verify result in the API's shape. */
export const renderVerify = (result: VerifyResult): AuditVerification =>
  result.valid
    ? { valid: true, entry_count: result.entry_count }
    : {
      valid: false,
      entry_count: result.entry_count,
      broken_at_seq: result.broken_at_seq,
      expected: /^[0-9a-f]{64}$/.test(result.expected) ? renderHash(result.expected) : result.expected,
      found: /^[0-9a-f]{64}$/.test(result.found) ? renderHash(result.found) : result.found,
      reason: result.reason
    }

export class Audit extends Context.Tag("@annal/kernel/Audit")<
  Audit,
  {
    /** Entries with from <= seq <= to, at most MAX_RANGE of them. */
    readonly entries: (fromSeq: number, toSeq: number) => Effect.Effect<ReadonlyArray<AuditEntry>, EventStoreError>
    /** The newest entries caused by an agent or decided about it, oldest first. */
    readonly byAgent: (agentId: string, limit: number) => Effect.Effect<ReadonlyArray<AuditEntry>, EventStoreError>
    /** Walks the whole chain now, and checks the log against its signed checkpoints. */
    readonly verify: Effect.Effect<AuditVerification, EventStoreError>
    /** The events of one stream, newest first: a page of them and how many there are in all. */
    readonly streamHistory: (stream: string, page: { readonly offset: number; readonly limit: number }) => Effect.Effect<{ readonly items: ReadonlyArray<StoredEvent>; readonly total: number }, EventStoreError>
    /** The last verification (the start-up check, or a full walk since), if one has run. */
    readonly lastVerification: Effect.Effect<RecordedVerification | undefined>
    /** Records a verification made elsewhere (the start-up check from the last checkpoint). */
    readonly recordVerification: (v: RecordedVerification) => Effect.Effect<void>
  }
>() {
  static readonly layer = Layer.effect(
    Audit,
    Effect.gen(function*() {
      const store = yield* EventStore
      const log = yield* TransparencyLog
      const { count, view } = commandsOf(store, yield* SqlClient.SqlClient)
      const last = yield* Ref.make<RecordedVerification | undefined>(undefined)
      const verify = Effect.zipWith(Effect.map(store.verify, renderVerify), log.check, withCheckpointCheck).pipe(Effect.tap((result) => Ref.set(last, { result, fromSeq: 1 })))
      return Audit.of({
        entries: (fromSeq, toSeq) =>
          store.read(fromSeq, Math.min(toSeq, fromSeq + MAX_RANGE - 1)).pipe(Effect.map((events) => events.map(toAuditEntry))),
        byAgent: (agentId, limit) =>
          view("events", EventRow, (sql) =>
            sql`SELECT * FROM events WHERE actor = ${"agent:" + agentId}
              OR seq IN (SELECT seq FROM access_decisions WHERE subject = ${agentId})
              ORDER BY seq DESC LIMIT ${limit}`).pipe(
            Effect.map((rows) => rows.map(fromRow).map(toAuditEntry).reverse())
          ),
        verify,
        // (stream, version) is unique and indexed: a page is an index range scan
        streamHistory: (stream, page) =>
          Effect.all([
            view("events", EventRow, (sql) => sql`SELECT * FROM events WHERE stream = ${stream} ORDER BY version DESC LIMIT ${page.limit} OFFSET ${page.offset}`),
            count("events", (sql) => sql`SELECT count(*) AS n FROM events WHERE stream = ${stream}`)
          ]).pipe(
            Effect.map(([rows, total]) => ({ items: rows.map(fromRow), total }))
          ),
        lastVerification: Ref.get(last),
        recordVerification: (v) => Ref.set(last, v)
      })
    })
  )
}
