/**
 * The agent groups service: the supervisor creates a group when it forks agents together and
 * reports each member's completion; the API lists and reads groups.
 */
import { SqlClient } from "@effect/sql"
import type { AgentGroup, AgentGroupSummary } from "@annal/spec"
import { EventStore, type EventStoreError, IdGenerator } from "@annal/store"
import { Context, Effect, Layer, Schema } from "effect"
import { type CommandContext, query } from "../shared/Command.js"
import { commandHandler, eventOf } from "../shared/CommandHandler.js"
import { type AlreadyExists, type ConcurrentChange, EntityNotFound, type InvalidCommand } from "../shared/errors.js"
import { type CreateGroup, decideCreate, decideMemberCompleted, type GroupState } from "./decide.js"
import { AGENT_GROUP_CREATED, AGENT_GROUP_MEMBER_COMPLETED, agentGroupStream } from "./events.js"
import { AgentGroupMemberRow, AgentGroupRow } from "./projection.js"

const GroupDetail = AgentGroupRow.pipe(Schema.omit("seq"))
const GroupListed = AgentGroupRow.pipe(Schema.pick("id", "name", "agent_count", "status", "created_at"))
const Member = AgentGroupMemberRow.pipe(Schema.pick("agent_id", "status", "result", "completed_at"))

export class AgentGroups extends Context.Tag("@annal/kernel/AgentGroups")<
  AgentGroups,
  {
    /** Every group, newest first. */
    readonly list: Effect.Effect<ReadonlyArray<AgentGroupSummary>, EventStoreError>
    /** A group with its members, in the order they were given. */
    readonly get: (id: string) => Effect.Effect<AgentGroup, EntityNotFound | EventStoreError>
    /** Creates a running group; `id` defaults to a new UUID v7. Returns the group. */
    readonly create: (
      input: CreateGroup & { readonly id?: string | undefined },
      context: CommandContext
    ) => Effect.Effect<AgentGroup, InvalidCommand | AlreadyExists | ConcurrentChange | EventStoreError>
    /** Records that a member finished; returns the group as it is now. */
    readonly memberCompleted: (
      groupId: string,
      agentId: string,
      outcome: { readonly success: boolean; readonly result?: string | null | undefined },
      context: CommandContext
    ) => Effect.Effect<AgentGroup, EntityNotFound | InvalidCommand | ConcurrentChange | EventStoreError>
  }
>() {
  static readonly layer = Layer.effect(
    AgentGroups,
    Effect.gen(function*() {
      const ids = yield* IdGenerator
      const context = yield* Effect.context<SqlClient.SqlClient | EventStore>()
      const run = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient | EventStore>) => Effect.provide(effect, context)
      const handle = commandHandler(Context.get(context, EventStore))

      const groupRow = (id: string) =>
        Effect.map(
          query("agent_groups", GroupDetail, (sql) =>
            sql`SELECT id, name, agent_count, completed_count, failed_count, status, created_at, updated_at, completed_at
              FROM agent_groups WHERE id = ${id}`),
          ([r]) => r
        )
      const members = (id: string) =>
        query("agent_group_members", Member, (sql) =>
          sql`SELECT agent_id, status, result, completed_at FROM agent_group_members WHERE group_id = ${id} ORDER BY position`)

      const load = (command: { readonly id: string }) =>
        Effect.gen(function*() {
          const group = yield* groupRow(command.id)
          return group === undefined ? undefined : ({ members: yield* members(command.id) } satisfies GroupState)
        })

      const get = (id: string) =>
        Effect.gen(function*() {
          const g = yield* groupRow(id)
          if (g === undefined) return yield* new EntityNotFound({ what: "agent group", id })
          return { ...g, members: yield* members(id), stream: agentGroupStream(id) } satisfies AgentGroup
        })
      // the group was just committed, so it is in the view
      const committed = (id: string) => get(id).pipe(Effect.catchTag("EntityNotFound", (e) => Effect.die(e)))

      const create = handle({
        stream: (command: CreateGroup & { readonly id: string }) => agentGroupStream(command.id),
        load,
        decide: (command, state) => decideCreate(command.id, state, command),
        emits: [AGENT_GROUP_CREATED],
        // an idempotent retry answers with the group its first attempt created
        answer: (stored, command) => committed(String(eventOf(stored, AGENT_GROUP_CREATED)?.data.group_id ?? command.id))
      })

      // members end in parallel: one whose completion raced another's is decided again by the handler
      const memberCompleted = handle({
        stream: (command: {
          readonly id: string
          readonly agentId: string
          readonly outcome: { readonly success: boolean; readonly result?: string | null | undefined }
        }) => agentGroupStream(command.id),
        load,
        decide: (command, state) => decideMemberCompleted(command.id, state, command.agentId, command.outcome),
        emits: [AGENT_GROUP_MEMBER_COMPLETED],
        answer: (_, command) => get(command.id)
      })

      return AgentGroups.of({
        list: run(Effect.map(
          query("agent_groups", GroupListed, (sql) =>
            sql`SELECT id, name, agent_count, status, created_at FROM agent_groups ORDER BY seq DESC`),
          (rows) => rows.map((g): AgentGroupSummary => ({ ...g, stream: agentGroupStream(g.id) }))
        )),
        get: (id) => run(get(id)),
        create: (input, ctx) => run(Effect.flatMap(input.id === undefined ? ids.next : Effect.succeed(input.id), (id) => create({ ...input, id }, ctx))),
        memberCompleted: (groupId, agentId, outcome, ctx) => run(memberCompleted({ id: groupId, agentId, outcome }, ctx))
      })
    })
  )
}
