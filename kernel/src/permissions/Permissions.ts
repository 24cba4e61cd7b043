/**
 * The permissions service: each agent's policy, changed only by `permissions_changed`, and the
 * check every tool call passes, recorded as an access decision.
 */
import { SqlClient } from "@effect/sql"
import type { AgentPermissions, PermissionsPatch } from "@annal/spec"
import { EventStore, type EventStoreError } from "@annal/store"
import { Context, Effect, Either, Layer } from "effect"
import { ACCESS_DECIDED, type AccessDecided, accessStream } from "../access/events.js"
import { type CommandContext, commandsOf } from "../shared/Command.js"
import { commandHandler } from "../shared/CommandHandler.js"
import { type ConcurrentChange, EntityNotFound, type InvalidCommand } from "../shared/errors.js"
import { type AccessRequest, type AccessVerdict, decideAccess, decideUpdate } from "./decide.js"
import { PERMISSIONS_CHANGED, permissionsStream } from "./events.js"
import { PermissionsRow } from "./projection.js"

const fromRow = ({ version: _version, ...permissions }: typeof PermissionsRow.Type): AgentPermissions => permissions

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
    ) => Effect.Effect<AgentPermissions, ConcurrentChange | InvalidCommand | EventStoreError>
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
      const store = yield* EventStore
      const { appendDecided, view } = commandsOf(store, yield* SqlClient.SqlClient)
      const handle = commandHandler(store)

      const read = (agent: string) =>
        Effect.map(view("agent_permissions", PermissionsRow, (sql) => sql`SELECT * FROM agent_permissions WHERE agent_name = ${agent}`), ([row]) => row)

      const get = (agent: string) =>
        Effect.flatMap(read(agent), (row) =>
          row === undefined ? Effect.fail(new EntityNotFound({ what: "permissions of agent", id: agent })) : Effect.succeed(fromRow(row)))

      // two changes at once (two starts of one agent, two editors) are each decided on what the other left
      const change = handle({
        stream: (command: { readonly agent: string; readonly patch: PermissionsPatch }) => permissionsStream(command.agent),
        load: (command) => Effect.map(read(command.agent), (row) => (row === undefined ? undefined : fromRow(row))),
        decide: (command, current) => {
          const changed = decideUpdate(command.agent, current, command.patch)
          return Either.right(changed === undefined ? [] : [{ type: PERMISSIONS_CHANGED, data: changed }])
        },
        emits: [PERMISSIONS_CHANGED],
        // committed, or unchanged from what the view holds: the view has the agent's permissions
        answer: (_, command) => Effect.catchTag(get(command.agent), "EntityNotFound", (e) => Effect.die(e))
      })
      const update = (agent: string, patch: PermissionsPatch, context: CommandContext) => change({ agent, patch }, context)

      // granted on behalf of whatever started the agent: that request's idempotency key is its own
      const ensureDefaults = (agent: string, context: CommandContext) =>
        Effect.flatMap(read(agent), (row) => {
          if (row !== undefined) return Effect.succeed(fromRow(row))
          const { idempotency_key: _key, ...meta } = context.meta ?? {}
          return change({ agent, patch: {} }, { ...context, meta }).pipe(Effect.catchTag("InvalidCommand", (e) => Effect.die(e)))
        })

      /** Decides and records the decision's `access_decided`, as `Access.record` appends it. */
      const check = (agent: string, request: AccessRequest, context: CommandContext) =>
        Effect.gen(function*() {
          const row = yield* read(agent)
          const verdict: AccessVerdict = row === undefined
            ? { allowed: false, reason: `agent "${agent}" has no permissions`, action: `use_tool:${request.tool}`, resource: request.path ?? request.tool }
            : decideAccess(fromRow(row), request)
          const decision: AccessDecided = { subject: agent, action: verdict.action, resource: verdict.resource, allowed: verdict.allowed, reason: verdict.reason }
          const [event] = yield* appendDecided(accessStream(agent), "any", [{ type: ACCESS_DECIDED, data: decision }], context).pipe(
            // "any" version cannot conflict
            Effect.catchTag("ConcurrentChange", (e) => Effect.die(e))
          )
          return { ...verdict, seq: event!.seq } satisfies RecordedVerdict
        })

      return Permissions.of({ get, update, ensureDefaults, check })
    })
  )
}
