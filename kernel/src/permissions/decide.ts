/**
 * Pure decisions of the permissions context: the default policy, applying a patch, and the one
 * access decision every tool call passes (`decideAccess`).
 */
import type { AgentPermissions, PermissionsPatch } from "@annal/spec"
import { posix } from "node:path"
import type { PermissionsChanged } from "./events.js"
import { matches } from "./glob.js"

/**
 * The tools an agent may use by default: the built-ins but `exec`, and the tools of the programs
 * the user installed and enabled (`*__*`: program tools are the only names with `__`).
 */
export const DEFAULT_TOOLS: ReadonlyArray<string> = ["read", "write", "edit", "ls", "grep", "find", "memory_store", "memory_search", "*__*"]

/** Whether an `allowed_tools` entry covers a tool: its name, `*`, `<program>__*`, or `*__*` for any program's tool. */
export const toolAllowed = (pattern: string, tool: string): boolean =>
  pattern === "*" || pattern === tool ||
  (pattern === "*__*" ? tool.includes("__") : pattern.endsWith("__*") && tool.startsWith(pattern.slice(0, -1)))

/** Paths denied by default: the repository's internals and secrets. */
export const DEFAULT_DENIED_PATHS: ReadonlyArray<string> = ["**/.git/**", "**/.env", "**/.env.*", "**/*.key", "**/*.pem"]

/** The policy an agent gets when the runtime first creates it: the workspace, no exec, network or fork. */
export const defaultPermissions = (agent: string): AgentPermissions => ({
  agent_name: agent,
  allowed_tools: DEFAULT_TOOLS,
  allowed_paths: ["**"],
  denied_paths: DEFAULT_DENIED_PATHS,
  network_access: false,
  max_execution_time_secs: 300,
  max_memory_mb: 512,
  can_fork: false
})

const FIELDS = [
  "allowed_tools",
  "allowed_paths",
  "denied_paths",
  "network_access",
  "max_execution_time_secs",
  "max_memory_mb",
  "can_fork"
] as const

/**
 * Applies a patch to an agent's permissions (the defaults when it has none): the event to
 * append, or none when an existing record would not change.
 */
export const decideUpdate = (
  agent: string,
  current: AgentPermissions | undefined,
  patch: PermissionsPatch
): PermissionsChanged | undefined => {
  const base = current ?? defaultPermissions(agent)
  const next: AgentPermissions = {
    agent_name: agent,
    allowed_tools: patch.allowed_tools ?? base.allowed_tools,
    allowed_paths: patch.allowed_paths ?? base.allowed_paths,
    denied_paths: patch.denied_paths ?? base.denied_paths,
    network_access: patch.network_access ?? base.network_access,
    max_execution_time_secs: patch.max_execution_time_secs ?? base.max_execution_time_secs,
    max_memory_mb: patch.max_memory_mb ?? base.max_memory_mb,
    can_fork: patch.can_fork ?? base.can_fork
  }
  const changed = current === undefined
    ? [...FIELDS]
    : FIELDS.filter((f) => JSON.stringify(current[f]) !== JSON.stringify(next[f]))
  if (changed.length === 0) return undefined
  return { ...next, changed }
}

/** What a tool call wants: the tool, and where relevant the workspace path, network, a fork. */
export interface AccessRequest {
  readonly tool: string
  /** Workspace-relative (the gate resolves it); an absolute or escaping path is denied. */
  readonly path?: string | undefined
  readonly network?: boolean | undefined
  readonly fork?: boolean | undefined
}

/** The verdict, and the aspect that decided it: `use_tool:<tool>`, `access_path:<path>`, `network`, `fork`. */
export interface AccessVerdict {
  readonly allowed: boolean
  readonly reason: string
  readonly action: string
  readonly resource: string
}

/** A path inside the workspace in canonical form (`.` for the root), or undefined when it leaves it. */
export const workspacePath = (path: string): string | undefined => {
  if (path.includes("\0") || posix.isAbsolute(path)) return undefined
  const normal = posix.normalize(path).replace(/\/+$/, "")
  if (normal === ".." || normal.startsWith("../")) return undefined
  return normal === "" ? "." : normal
}

/**
 * Decides one tool call against an agent's permissions: the tool must be allowed, the path
 * must match an allowed pattern and no denied one (deny always wins; denied patterns ignore
 * case), network and fork need their flags. The first failing aspect decides.
 */
export const decideAccess = (permissions: AgentPermissions, request: AccessRequest): AccessVerdict => {
  const tool = request.tool
  const resource = request.path ?? tool
  const deny = (action: string, reason: string): AccessVerdict => ({ allowed: false, reason, action, resource })
  if (!permissions.allowed_tools.some((t) => toolAllowed(t, tool))) {
    return deny(`use_tool:${tool}`, `tool "${tool}" is not in allowed_tools`)
  }
  if (request.path !== undefined) {
    const action = `access_path:${request.path}`
    const path = workspacePath(request.path)
    if (path === undefined) return deny(action, `path "${request.path}" is outside the workspace`)
    const denied = permissions.denied_paths.find((p) => matches(p, path, { nocase: true }))
    if (denied !== undefined) return deny(action, `path "${path}" matches denied pattern "${denied}"`)
    if (!permissions.allowed_paths.some((p) => matches(p, path))) return deny(action, `path "${path}" matches no allowed_paths pattern`)
  }
  if (request.network === true && !permissions.network_access) return deny("network", "network access is not allowed")
  if (request.fork === true && !permissions.can_fork) return deny("fork", "forking agents is not allowed")
  return {
    allowed: true,
    reason: request.path === undefined ? `tool "${tool}" is allowed` : `tool "${tool}" on "${workspacePath(request.path)}" is allowed`,
    action: `use_tool:${tool}`,
    resource
  }
}
