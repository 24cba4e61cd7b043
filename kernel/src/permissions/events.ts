import { AgentPermissions } from "@annal/spec"
import { Schema } from "effect"

export const PERMISSIONS_CHANGED = "permissions_changed"

/** An agent's whole permissions after a change, and which fields changed (all on creation). */
export const PermissionsChanged = Schema.Struct({
  ...AgentPermissions.fields,
  changed: Schema.Array(Schema.String)
})
export type PermissionsChanged = typeof PermissionsChanged.Type

/** The stream of one agent's permissions. */
export const permissionsStream = (agent: string) => `permissions-${agent}`
