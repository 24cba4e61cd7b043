/**
 * The API's routes by template (`/api/audit/agent/:agent_id`): names a request for metrics
 * labels, tells which media types its body may have, and lists the methods a path has (for
 * 405's `Allow`).
 */
import { HttpApi } from "@effect/platform"
import { AnnalApi } from "@annal/spec"

/** A route of the API: its method and template, and what its request bodies may be. */
export interface Route {
  readonly method: string
  readonly template: string
  readonly pattern: RegExp
  /** The media types of the request bodies it takes; empty when it takes none. */
  readonly bodyTypes: ReadonlyArray<string>
}

const BODY_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"])

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

const toPattern = (template: string) =>
  new RegExp(
    "^" +
      template
        .split("/")
        .map((part) => (part.startsWith(":") ? "[^/]+" : part === "*" ? ".*" : escape(part)))
        .join("/") +
      "/?$"
  )

const collect = (): ReadonlyArray<Route> => {
  const routes: Array<Route> = []
  HttpApi.reflect(AnnalApi, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, payloads }) => {
      // a GET's "payload" is its query string, not a body
      const bodyTypes = BODY_METHODS.has(endpoint.method) ? [...payloads.keys()].map((t) => t.split(";")[0]!.trim().toLowerCase()) : []
      routes.push({ method: endpoint.method, template: endpoint.path, pattern: toPattern(endpoint.path), bodyTypes })
    }
  })
  // literal routes before parameterised ones so `/api/personas/active` beats `/api/personas/:id`
  return routes.sort((a, b) => Number(a.template.includes(":")) - Number(b.template.includes(":")))
}

const extra: ReadonlyArray<Route> = [
  { method: "GET", template: "/openapi.json", pattern: /^\/openapi\.json$/, bodyTypes: [] },
  { method: "GET", template: "/docs", pattern: /^\/docs(\/.*)?$/, bodyTypes: [] }
]

interface Table {
  /** Every route, in the order a request's path is tried against them. */
  readonly ordered: ReadonlyArray<Route>
  /**
   * The routes a request finds by `METHOD path` without a scan: each literal route no earlier
   * route would take instead.
   */
  readonly literal: ReadonlyMap<string, Route>
}

let table: Table | undefined

const tableOf = (): Table => {
  if (table !== undefined) return table
  const ordered = [...collect(), ...extra]
  const literal = new Map<string, Route>()
  ordered.forEach((r, i) => {
    const key = `${r.method} ${r.template}`
    const shadowed = ordered.slice(0, i).some((earlier) => earlier.method === r.method && earlier.pattern.test(r.template))
    if (!/[:*]/.test(r.template) && r.pattern.test(r.template) && !shadowed) literal.set(key, r)
  })
  return (table = { ordered, literal })
}

const scan = (method: string, path: string): Route | undefined =>
  tableOf().ordered.find((r) => (r.method === method || (method === "HEAD" && r.method === "GET")) && r.pattern.test(path))

/** The route a request takes (HEAD takes GET's), or undefined when none does; literal routes before parameterised ones. */
export const routeFor = (method: string, path: string): Route | undefined =>
  (method === "HEAD" || path.endsWith("/") ? undefined : tableOf().literal.get(`${method} ${path}`)) ?? scan(method, path)

/** The methods some route has for `path` (HEAD wherever GET is), in a stable order; none for a path no route has. */
export const methodsOf = (path: string): ReadonlyArray<string> => {
  const methods = new Set(tableOf().ordered.filter((r) => r.pattern.test(path)).map((r) => r.method))
  if (methods.has("GET")) methods.add("HEAD")
  return [...methods].sort()
}
