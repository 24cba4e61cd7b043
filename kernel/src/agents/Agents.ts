/** The agents view as a service: the list the API pages through, and one agent's row. */
import type { AgentSummary, PageRequest } from "@annal/spec"
import { EventStore, type EventStoreError } from "@annal/store"
import { SqlClient } from "@effect/sql"
import { Context, Effect, Layer } from "effect"
import { commandsOf, query } from "../shared/Command.js"
import { EntityNotFound } from "../shared/errors.js"
import { type Paged, paged } from "../shared/Page.js"
import { agentStream } from "./events.js"
import { AgentCounts, AgentRow } from "./projection.js"

export { AgentCounts, AgentRow } from "./projection.js"

export const toSummary = (r: AgentRow): AgentSummary => ({ id: r.id, name: r.name, status: r.status, created_at: r.created_at, seed_id: r.seed_id, stream: agentStream(r.id) })

export class Agents extends Context.Tag("@annal/kernel/Agents")<
  Agents,
  {
    /** Newest first. */
    readonly list: (page: PageRequest) => Effect.Effect<Paged<AgentSummary>, EventStoreError>
    readonly get: (id: string) => Effect.Effect<AgentRow, EntityNotFound | EventStoreError>
    /** The counters `/api/status` reports: live now, ever forked, completed, failed. */
    readonly counts: Effect.Effect<AgentCounts, EventStoreError>
  }
>() {
  static readonly layer = Layer.effect(
    Agents,
    Effect.gen(function*() {
      const services = yield* Effect.context<SqlClient.SqlClient | EventStore>()
      const commands = commandsOf(Context.get(services, EventStore), Context.get(services, SqlClient.SqlClient))
      return Agents.of({
        list: (page) =>
          paged(
            "agents",
            page,
            (sql) => sql`SELECT count(*) AS n FROM agents`,
            AgentRow,
            (sql, limit, offset) => sql`SELECT * FROM agents ORDER BY seq DESC LIMIT ${limit} OFFSET ${offset}`,
            toSummary
          ).pipe(Effect.provide(services)),
        get: (id) =>
          commands.view("agents", AgentRow, (sql) => sql`SELECT * FROM agents WHERE id = ${id}`).pipe(
            Effect.flatMap(([row]) => (row === undefined ? Effect.fail(new EntityNotFound({ what: "agent", id })) : Effect.succeed(row)))
          ),
        counts: query("agents' counters", AgentCounts, (sql) => sql`
          SELECT coalesce(sum(CASE WHEN status IN ('Starting', 'Running', 'Idle') THEN 1 ELSE 0 END), 0) AS active_count,
                 count(*) AS total_forked,
                 coalesce(sum(CASE WHEN status = 'Stopped' AND stop_reason = 'completed' THEN 1 ELSE 0 END), 0) AS total_completed,
                 coalesce(sum(CASE WHEN status = 'Failed' THEN 1 ELSE 0 END), 0) AS total_failed
          FROM agents`).pipe(
          Effect.map((rows) => rows[0] ?? { active_count: 0, total_forked: 0, total_completed: 0, total_failed: 0 }),
          Effect.provide(services)
        )
      })
    })
  )
}
