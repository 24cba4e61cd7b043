/**
 * Per-agent permissions (seed section 12): which tools an agent may call, which workspace paths
 * it may touch (globs; a denied pattern always wins), network, fork and resource limits.
 */
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { StreamName } from "./StreamName.js"
import { Authorization } from "./Auth.js"
import { BadRequest, Conflict, NotFound } from "./Errors.js"
import { AtSeqQuery } from "./AtSeq.js"

/** An agent's name as it appears in a path: 1–200 characters. */
export const AgentName = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200))

/**
 * A tool name (`^[a-zA-Z0-9_-]{1,64}$`), `*` for every tool, `<program>__*` for every tool of a
 * program, or `*__*` for the tools of every program.
 */
export const ToolPattern = Schema.String.pipe(
  Schema.pattern(/^(\*|\*__\*|[a-zA-Z0-9-]{1,48}__\*|[a-zA-Z0-9_-]{1,64})$/, {
    message: () => "a tool name (letters, digits, _ and -, at most 64), *, <program>__* or *__*"
  })
)

/**
 * A glob over workspace-relative paths (picomatch syntax, dotfiles included). A leading `/`
 * means the workspace root; a pattern also covers everything beneath what it matches.
 */
export const PathPattern = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(1024))

const Seconds = Schema.Int.pipe(Schema.between(1, 86_400))
const Megabytes = Schema.Int.pipe(Schema.between(1, 1_048_576))

export const AgentPermissions = Schema.Struct({
  agent_name: Schema.String,
  allowed_tools: Schema.Array(ToolPattern),
  allowed_paths: Schema.Array(PathPattern),
  denied_paths: Schema.Array(PathPattern),
  network_access: Schema.Boolean,
  max_execution_time_secs: Seconds,
  max_memory_mb: Megabytes,
  can_fork: Schema.Boolean
})
export type AgentPermissions = typeof AgentPermissions.Type

/** `GET /api/permissions/{agent}`: the policy, and the stream its changes are recorded in. */
export const AgentPermissionsEntry = Schema.extend(AgentPermissions, Schema.Struct({ stream: StreamName }))

/** The body of `PUT /api/permissions/{agent}`: only the given fields change. */
export const PermissionsPatch = Schema.Struct({
  allowed_tools: Schema.optional(Schema.Array(ToolPattern).pipe(Schema.maxItems(256))),
  allowed_paths: Schema.optional(Schema.Array(PathPattern).pipe(Schema.maxItems(256))),
  denied_paths: Schema.optional(Schema.Array(PathPattern).pipe(Schema.maxItems(256))),
  network_access: Schema.optional(Schema.Boolean),
  max_execution_time_secs: Schema.optional(Seconds),
  max_memory_mb: Schema.optional(Megabytes),
  can_fork: Schema.optional(Schema.Boolean)
})
export type PermissionsPatch = typeof PermissionsPatch.Type

export const PermissionsUpdated = Schema.Struct({ status: Schema.Literal("updated"), agent: Schema.String })

const AgentPath = Schema.Struct({ agent: AgentName })

export class PermissionsGroup extends HttpApiGroup.make("permissions")
  .add(
    HttpApiEndpoint.get("get", "/api/permissions/:agent")
      .setPath(AgentPath)
      .setUrlParams(AtSeqQuery)
      .addSuccess(AgentPermissionsEntry)
      .addError(NotFound)
      .annotate(OpenApi.Description, "404 until the agent has permissions: set by PUT, or the defaults given when the runtime first creates it.")
  )
  .add(
    HttpApiEndpoint.put("update", "/api/permissions/:agent")
      .setPath(AgentPath)
      .setPayload(PermissionsPatch)
      .addSuccess(PermissionsUpdated)
      .addError(BadRequest)
      .addError(Conflict)
      .annotate(OpenApi.Description, "Changes only the given fields; an agent without permissions gets the defaults first.")
  )
  .middleware(Authorization)
{}
