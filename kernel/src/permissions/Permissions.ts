/**
 * The permissions service: each agent's policy, changed only by `permissions_changed`, and the
 * check every tool call passes, recorded as an access decision.
 */
import type { AgentPermissions, PermissionsPatch } from "@annal/spec"
import type { EventStore, EventStoreError } from "@annal/store"
import type { SqlClient } from "@effect/sql"
import { Context, Effect, Layer } from "effect"
import { Access } from "../access/Access.js"
import { appendDecided, type CommandContext, view } from "../shared/Command.js"
import { type ConcurrentChange, EntityNotFound } from "../shared/errors.js"
import { type AccessRequest, type AccessVerdict, decideAccess, decideUpdate } from "./decide.js"
import { PERMISSIONS_CHANGED, permissionsStream } from "./events.js"

interface Row {
  readonly agent_name: string
  readonly allowed_tools: string
  readonly allowed_paths: string
  readonly denied_paths: string
  readonly network_access: number
  readonly max_execution_time_secs: number
  readonly max_memory_mb: number
  readonly can_fork: number
  readonly version: number
}

const fromRow = (r: Row): AgentPermissions => ({
  agent_name: r.agent_name,
  allowed_tools: JSON.parse(r.allowed_tools) as Array<string>,
  allowed_paths: JSON.parse(r.allowed_paths) as Array<string>,
  denied_paths: JSON.parse(r.denied_paths) as Array<string>,
  network_access: r.network_access === 1,
  max_execution_time_secs: r.max_execution_time_secs,
  max_memory_mb: r.max_memory_mb,
  can_fork: r.can_fork === 1
})

/** A recorded access decision: the verdict and the seq of its `access_decided` event. */
export interface RecordedVerdict extends AccessVerdict {
  readonly seq: number
}

export class Permissions extends Context.Tag("@annal/kernel/Permissions")<
  Permissions,
  {
    /** The agent's permissions; EntityNotFound until it has some. */
    readonly get: (agent: string) => Effect.Effect<AgentPermissions, EntityNotFound | EventStoreError>
    /** Changes the given fields (starting from the defaults when the agent has none); returns the result. */
    readonly update: (
      agent: string,
      patch: PermissionsPatch,
      context: CommandContext
    ) => Effect.Effect<AgentPermissions, ConcurrentChange | EventStoreError>
    /** Gives an agent the default policy unless it has permissions already; the runtime calls it when creating an agent. */
    readonly ensureDefaults: (agent: string, context: CommandContext) => Effect.Effect<AgentPermissions, ConcurrentChange | EventStoreError>
    /**
     * Decides a tool call with `decideAccess` and records the decision as `access_decided`
     * (subject the agent). An agent without permissions is denied.
     */
    readonly check: (agent: string, request: AccessRequest, context: CommandContext) => Effect.Effect<RecordedVerdict, EventStoreError>
  }
>() {
  static readonly layer = Layer.effect(
    Permissions,
    Effect.gen(function*() {
      const services = yield* Effect.context<SqlClient.SqlClient | EventStore>()
      const access = yield* Access
      // one writer at a time in this process; another process's change is a ConcurrentChange
      const lock = yield* Effect.makeSemaphore(1)
      const withServices = Effect.provide(services)

      const read = (agent: string) =>
        view("permissions", (db) => db.get<Row>("SELECT * FROM agent_permissions WHERE agent_name = ?", [agent])).pipe(withServices)

      const get = (agent: string) =>
        Effect.flatMap(read(agent), (row) =>
          row === undefined ? Effect.fail(new EntityNotFound({ what: "permissions of agent", id: agent })) : Effect.succeed(fromRow(row)))

      const update = (agent: string, patch: PermissionsPatch, context: CommandContext) =>
        lock.withPermits(1)(
          Effect.gen(function*() {
            const row = yield* read(agent)
            const current = row === undefined ? undefined : fromRow(row)
            const change = decideUpdate(agent, current, patch)
            if (change === undefined) return current!
            yield* appendDecided(permissionsStream(agent), row?.version ?? 0, [{ type: PERMISSIONS_CHANGED, data: change }], context)
            const { changed: _changed, ...permissions } = change
            return permissions
          })
        ).pipe(withServices)

      const ensureDefaults = (agent: string, context: CommandContext) =>
        Effect.flatMap(read(agent), (row) => (row === undefined ? update(agent, {}, context) : Effect.succeed(fromRow(row))))

      const check = (agent: string, request: AccessRequest, context: CommandContext) =>
        Effect.gen(function*() {
          const row = yield* read(agent)
          const verdict: AccessVerdict = row === undefined
            ? { allowed: false, reason: `agent "${agent}" has no permissions`, action: `use_tool:${request.tool}`, resource: request.path ?? request.tool }
            : decideAccess(fromRow(row), request)
          const seq = yield* access.record(
            { subject: agent, action: verdict.action, resource: verdict.resource, allowed: verdict.allowed, reason: verdict.reason },
            context
          )
          return { ...verdict, seq }
        })

      return Permissions.of({ get, update, ensureDefaults, check })
    })
  )
}
