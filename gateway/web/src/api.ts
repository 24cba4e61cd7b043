/**
 * The UI's client of Annal's public API. Every route it calls is named in `endpoints`, and a
 * test checks each against the server's `/openapi.json`, so the client cannot drift from the
 * server. Requests carry the session cookie (same origin); a 401 means the session ended.
 */
export const endpoints = {
  authSession: ["GET", "/api/auth/session"],
  signIn: ["POST", "/api/auth/session"],
  signOut: ["DELETE", "/api/auth/session"],
  status: ["GET", "/api/status"],
  config: ["GET", "/api/config"],
  putConfig: ["PUT", "/api/config"],
  resourceHistory: ["GET", "/api/resources/history"],
  auditEntries: ["GET", "/api/audit/entries"],
  auditVerify: ["GET", "/api/audit/verify"],
  auditExport: ["POST", "/api/audit/export"],
  logStream: ["GET", "/api/log/streams/{stream}"],
  seed: ["GET", "/api/seeds/{id}"],
  sessions: ["GET", "/api/sessions"],
  session: ["GET", "/api/sessions/{id}"],
  deleteSession: ["DELETE", "/api/sessions/{id}"],
  agents: ["GET", "/api/agents"],
  killAgent: ["POST", "/api/agents/{id}/kill"],
  schedulerStats: ["GET", "/api/scheduler/stats"],
  schedulerTasks: ["GET", "/api/scheduler/tasks"],
  agentGroups: ["GET", "/api/agent-groups"],
  agentGroup: ["GET", "/api/agent-groups/{id}"],
  approvals: ["GET", "/api/approvals"],
  approve: ["POST", "/api/approvals/{id}/approve"],
  reject: ["POST", "/api/approvals/{id}/reject"],
  memory: ["GET", "/api/memory"],
  addMemory: ["POST", "/api/memory"],
  getMemory: ["GET", "/api/memory/{name}"],
  deleteMemory: ["DELETE", "/api/memory/{name}"],
  searchMemory: ["POST", "/api/memory/search"],
  semanticMemory: ["POST", "/api/memory/semantic"],
  tree: ["GET", "/api/workspace/tree"],
  readFile: ["GET", "/api/workspace/file/{path}"],
  writeFile: ["PUT", "/api/workspace/file/{path}"],
  gitLog: ["GET", "/api/git/log"],
  gitShow: ["GET", "/api/git/show"],
  gitRestore: ["POST", "/api/git/restore"],
  programs: ["GET", "/api/programs"],
  program: ["GET", "/api/programs/{name}"],
  installProgram: ["POST", "/api/programs"],
  uninstallProgram: ["DELETE", "/api/programs/{name}"],
  enableProgram: ["POST", "/api/programs/{name}/enable"],
  disableProgram: ["POST", "/api/programs/{name}/disable"],
  hostRequirements: ["GET", "/api/programs/{name}/host-requirements"],
  cronJobs: ["GET", "/api/cron-jobs"],
  createCronJob: ["POST", "/api/cron-jobs"],
  deleteCronJob: ["DELETE", "/api/cron-jobs/{id}"],
  editCronJob: ["POST", "/api/cron-jobs/{id}/edit"],
  triggerCronJob: ["POST", "/api/cron-jobs/{id}/trigger"],
  cronRuns: ["GET", "/api/cron-jobs/{id}/runs"],
  personas: ["GET", "/api/personas"],
  activatePersona: ["PUT", "/api/personas/active"],
  createPersona: ["POST", "/api/personas"],
  skills: ["GET", "/api/skills"],
  createSkill: ["POST", "/api/skills"],
  deleteSkill: ["DELETE", "/api/skills/{name}"],
  budget: ["GET", "/api/budget/{agent_id}"],
  setBudget: ["POST", "/api/budget/{agent_id}"],
  resetBudget: ["POST", "/api/budget/{agent_id}/reset"],
  permissions: ["GET", "/api/permissions/{agent}"],
  putPermissions: ["PUT", "/api/permissions/{agent}"],
  events: ["GET", "/api/events"],
  chatStream: ["GET", "/api/chat/stream"]
} as const satisfies Record<string, readonly [string, string]>

export type Endpoint = keyof typeof endpoints

/** An answer other than 2xx, with the server's `{"error"}` message. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message)
  }
}

/**
 * The parameter /openapi.json names a wildcard route's rest of path with (`/api/workspace/file/{path}`):
 * a path of any depth, encoded segment by segment so its slashes stay slashes.
 */
const REST_OF_PATH = "path"

/** Fills the `{name}`s of a route template; each value is URL-encoded (`{path}` per segment). */
export const fillPath = (template: string, params: Readonly<Record<string, string>> = {}): string =>
  template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = params[name]
    if (value === undefined) throw new Error(`missing path parameter ${name}`)
    return name === REST_OF_PATH ? value.split("/").map(encodeURIComponent).join("/") : encodeURIComponent(value)
  })

export interface CallOptions {
  readonly params?: Readonly<Record<string, string>>
  readonly query?: Readonly<Record<string, string | number | undefined>>
  /** A JSON body, or a string sent as text/plain. */
  readonly body?: unknown
  /** Read the answer as text instead of JSON. */
  readonly text?: boolean
  readonly signal?: AbortSignal
}

/** Called when the server answers 401: the UI shows the sign-in form again. */
let onUnauthorized: () => void = () => {}
export const setUnauthorizedHandler = (handler: () => void) => {
  onUnauthorized = handler
}

/** The URL of an endpoint (for links and streams). */
export const urlOf = (endpoint: Endpoint, options: Pick<CallOptions, "params" | "query"> = {}): string => {
  const path = fillPath(endpoints[endpoint][1], options.params)
  const query = Object.entries(options.query ?? {}).filter(([, v]) => v !== undefined && v !== "")
  return query.length === 0 ? path : `${path}?${new URLSearchParams(query.map(([k, v]) => [k, String(v)])).toString()}`
}

/** Calls an endpoint; resolves with its JSON (or text), rejects with an ApiError. */
export const call = async <A = any>(endpoint: Endpoint, options: CallOptions = {}): Promise<A> => {
  const [method] = endpoints[endpoint]
  const headers: Record<string, string> = {}
  let body: string | undefined
  if (options.body !== undefined) {
    if (typeof options.body === "string") {
      headers["content-type"] = "text/plain; charset=utf-8"
      body = options.body
    } else {
      headers["content-type"] = "application/json"
      body = JSON.stringify(options.body)
    }
  }
  const response = await fetch(urlOf(endpoint, options), {
    method,
    headers,
    credentials: "same-origin",
    ...(body === undefined ? {} : { body }),
    ...(options.signal === undefined ? {} : { signal: options.signal })
  })
  const text = await response.text()
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`
    try {
      const parsed = JSON.parse(text) as { error?: unknown }
      if (typeof parsed.error === "string") message = parsed.error
    } catch {
      // not JSON: keep the status line
    }
    if (response.status === 401 && endpoint !== "signIn") onUnauthorized()
    throw new ApiError(response.status, message)
  }
  if (options.text === true) return text as A
  return (text === "" ? undefined : JSON.parse(text)) as A
}
