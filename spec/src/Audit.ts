/** The audit trail (seed section 11): a view of the event log itself. */
import { Schema } from "effect"
import { IntegerParam } from "./IntegerParam.js"

const SeqParam = IntegerParam(0)

export const AuditEntry = Schema.Struct({
  seq: Schema.Number,
  timestamp: Schema.String,
  agent_name: Schema.String,
  action: Schema.String,
  resource: Schema.String,
  allowed: Schema.Boolean,
  hash: Schema.String,
  prev_hash: Schema.String,
  /**
   * Annal's additions: the event as the log names it (an access decision's entry shows the
   * decision in action/resource/agent_name; these keep its own type, stream and actor), and its
   * payload and meta (correlation, causation, session) as the log holds them.
   */
  type: Schema.String,
  stream: Schema.String,
  actor: Schema.String,
  data: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  meta: Schema.Record({ key: Schema.String, value: Schema.Unknown })
})
export type AuditEntry = typeof AuditEntry.Type

export const AuditEntriesQuery = Schema.Struct({
  from_seq: Schema.optional(SeqParam),
  to_seq: Schema.optional(SeqParam)
})

export const AuditEntries = Schema.Struct({ entries: Schema.Array(AuditEntry), count: Schema.Number })

export const AgentAuditEntry = AuditEntry.pipe(Schema.pick("seq", "agent_name", "action", "resource", "allowed"))
export const AgentAuditEntries = Schema.Struct({ entries: Schema.Array(AgentAuditEntry), count: Schema.Number })

export const AuditVerify = Schema.Struct({
  valid: Schema.Boolean,
  entry_count: Schema.Number,
  broken_at_seq: Schema.optional(Schema.Number),
  expected: Schema.optional(Schema.String),
  found: Schema.optional(Schema.String),
  reason: Schema.optional(Schema.String),
  /** Annal's addition: the log checked against its signed checkpoints (docs/event-log.md). */
  checkpoint: Schema.optional(Schema.Struct({
    ok: Schema.Boolean,
    /** Each names the checkpoint (file, size, root) and the log's head. */
    problems: Schema.Array(Schema.String),
    checkpoints: Schema.Array(Schema.Struct({ source: Schema.String, path: Schema.String, size: Schema.Number, root: Schema.String })),
    head: Schema.Struct({ seq: Schema.Number, hash: Schema.String })
  }))
})

export const AuditExportRequest = Schema.Struct({
  from_seq: Schema.optional(Schema.Int.pipe(Schema.nonNegative())),
  limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 100_000)))
})

export const AuditExport = Schema.Struct({ json: Schema.String, entry_count: Schema.Number, next_seq: Schema.NullOr(Schema.Number) })

export const AuditFlush = Schema.Struct({
  flushed: Schema.Number,
  entry_count: Schema.Number,
  detail: Schema.String
})

/** An access decision (the legacy `GET /api/audit` list). */
export const AccessDecision = Schema.Struct({
  timestamp: Schema.String,
  agent_name: Schema.String,
  action: Schema.String,
  resource: Schema.String,
  allowed: Schema.Boolean,
  reason: Schema.NullOr(Schema.String)
})
export type AccessDecision = typeof AccessDecision.Type
