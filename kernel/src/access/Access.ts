/** Access decisions: recorded as events, listed newest first. */
import { SqlClient } from "@effect/sql"
import type { AccessDecision, PageRequest } from "@annal/spec"
import { EventStore, type EventMeta, EventStoreError } from "@annal/store"
import { Context, Effect, Layer } from "effect"
import { ACCESS_DECIDED, type AccessDecided, accessStream } from "./events.js"
import { commandsOf } from "../shared/Command.js"
import { AccessDecisionRow } from "./projection.js"

export class Access extends Context.Tag("@annal/kernel/Access")<
  Access,
  {
    /** Records a decision; returns its seq. */
    readonly record: (
      decision: AccessDecided,
      context: { readonly actor: string; readonly meta?: EventMeta | undefined }
    ) => Effect.Effect<number, EventStoreError>
    /** Decisions newest first. */
    readonly list: (page: PageRequest) => Effect.Effect<{ readonly items: ReadonlyArray<AccessDecision>; readonly total: number }, EventStoreError>
  }
>() {
  static readonly layer = Layer.effect(
    Access,
    Effect.gen(function*() {
      const store = yield* EventStore
      const { count, view } = commandsOf(store, yield* SqlClient.SqlClient)
      return Access.of({
        record: (decision, context) =>
          store.append({
            stream: accessStream(decision.subject),
            expectedVersion: "any",
            events: [{ type: ACCESS_DECIDED, data: decision }],
            actor: context.actor,
            meta: context.meta
          }).pipe(
            Effect.map((events) => events[0]!.seq),
            // "any" version cannot conflict
            Effect.catchTag("StreamVersionConflict", (e) => Effect.die(e))
          ),
        list: (page) =>
          Effect.gen(function*() {
            const total = yield* count("access_decisions", (sql) => sql`SELECT count(*) AS n FROM access_decisions`)
            const rows = yield* view("access_decisions", AccessDecisionRow, (sql) =>
              sql`SELECT * FROM access_decisions ORDER BY seq DESC LIMIT ${page.limit} OFFSET ${page.offset}`)
            return {
              total,
              items: rows.map((r) => ({
                timestamp: r.at,
                agent_name: r.subject,
                action: r.action,
                resource: r.resource,
                allowed: r.allowed,
                reason: r.reason
              }))
            }
          })
      })
    })
  )
}
