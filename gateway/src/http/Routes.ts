/**
 * The API's routes by template (`/api/audit/agent/:agent_id`): names a request for metrics
 * labels, tells which media types its body may have, and lists the methods a path has (for
 * 405's `Allow`).
 */
import { HttpApi } from "@effect/platform"
import { AnnalApi } from "@annal/spec"

interface Route {
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

let routes: ReadonlyArray<Route> | undefined

const all = () => (routes ??= [...collect(), ...extra])

const find = (method: string, path: string): Route | undefined => {
  return all().find((r) => (r.method === method || (method === "HEAD" && r.method === "GET")) && r.pattern.test(path))
}

/** The route template a request matched, or `unmatched`. */
export const routeOf = (method: string, path: string): string => find(method, path)?.template ?? "unmatched"

/** The media types the body of a request to this route may have, or undefined when no route matches. */
export const bodyTypesOf = (method: string, path: string): ReadonlyArray<string> | undefined => find(method, path)?.bodyTypes

/** The methods some route has for `path` (HEAD wherever GET is), in a stable order; none for a path no route has. */
export const methodsOf = (path: string): ReadonlyArray<string> => {
  const methods = new Set(all().filter((r) => r.pattern.test(path)).map((r) => r.method))
  if (methods.has("GET")) methods.add("HEAD")
  return [...methods].sort()
}
