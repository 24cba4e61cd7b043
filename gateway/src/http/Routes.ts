/** Names a request by its route template (`/api/audit/agent/:agent_id`), for metrics labels. */
import { HttpApi } from "@effect/platform"
import { AnnalApi } from "@annal/spec"

interface Route {
  readonly method: string
  readonly template: string
  readonly pattern: RegExp
}

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
    onEndpoint: ({ endpoint }) => {
      routes.push({ method: endpoint.method, template: endpoint.path, pattern: toPattern(endpoint.path) })
    }
  })
  // literal routes before parameterised ones so `/api/personas/active` beats `/api/personas/:id`
  return routes.sort((a, b) => Number(a.template.includes(":")) - Number(b.template.includes(":")))
}

const extra: ReadonlyArray<Route> = [
  { method: "GET", template: "/openapi.json", pattern: /^\/openapi\.json$/ },
  { method: "GET", template: "/docs", pattern: /^\/docs(\/.*)?$/ }
]

let routes: ReadonlyArray<Route> | undefined

/** The route template a request matched, or `unmatched`. */
export const routeOf = (method: string, path: string): string => {
  routes ??= [...collect(), ...extra]
  for (const r of routes) if ((r.method === method || (method === "HEAD" && r.method === "GET")) && r.pattern.test(path)) return r.template
  return "unmatched"
}
