/** The audit trail (seed section 11): the event log itself, read as audit entries. */
import { HttpApiBuilder } from "@effect/platform"
import { Access, Audit, AuditEntry, MAX_RANGE } from "@annal/kernel"
import { AnnalApi, pageRequest } from "@annal/spec"
import { EventStore } from "@annal/store"
import { Effect } from "effect"
import { internal } from "./common.js"

/** Entries an export returns at most when the request names no limit. */
const EXPORT_DEFAULT_LIMIT = 10_000

export const AuditLive = HttpApiBuilder.group(AnnalApi, "audit", (handlers) =>
  Effect.gen(function*() {
    const audit = yield* Audit
    const access = yield* Access
    const store = yield* EventStore
    const failed = internal("could not read the audit trail")
    return handlers
      .handle("entries", ({ urlParams }) =>
        Effect.map(audit.entries(urlParams.from_seq ?? 0, urlParams.to_seq ?? 100), (entries) => ({ entries, count: entries.length })).pipe(
          Effect.mapError(failed)
        ))
      .handle("verify", () => Effect.mapError(audit.verify, failed))
      .handle("byAgent", ({ path }) =>
        audit.byAgent(path.agent_id, MAX_RANGE).pipe(
          Effect.map((entries) => {
            const slim = entries.map(({ action, agent_name, allowed, resource, seq }) => ({ seq, agent_name, action, resource, allowed }))
            return { entries: slim, count: slim.length }
          }),
          Effect.mapError(failed)
        ))
      .handle("export", ({ payload }) =>
        Effect.gen(function*() {
          // every field is optional, and so is the body
          const from = payload?.from_seq ?? 0
          const limit = payload?.limit ?? EXPORT_DEFAULT_LIMIT
          const events = yield* store.read(from, from + limit - 1)
          const entries = events.map(AuditEntry.toAuditEntry)
          const head = yield* store.head
          const last = events[events.length - 1]
          const next = last !== undefined && last.seq < head.seq ? last.seq + 1 : null
          return { json: JSON.stringify(entries), entry_count: entries.length, next_seq: next }
        }).pipe(Effect.mapError(failed)))
      .handle("flush", () =>
        Effect.map(store.head, (head) => ({
          flushed: 0,
          entry_count: head.seq,
          detail: "nothing to flush: every event is committed to SQLite (WAL, synchronous=FULL by default) before its request is answered"
        })))
      .handle("legacy", ({ urlParams }) => {
        const page = pageRequest(urlParams)
        return Effect.map(access.list(page), ({ items, total }) => ({ items, total, page: page.page, limit: page.limit })).pipe(
          Effect.mapError(failed)
        )
      })
  }))
