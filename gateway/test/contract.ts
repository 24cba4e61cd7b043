/**
 * The OpenAPI document as a contract the tests hold the server to: every response a test
 * receives through the harness's client is checked against the document's declaration for its
 * route and status (`checkResponse`). The document is the one `/openapi.json` serves
 * (`OpenApi.fromApi` of the spec's API); its schemas are compiled with Ajv (JSON Schema 2020-12,
 * OpenAPI 3.1's dialect) once per test worker, each response schema when first met. Ajv is
 * strict about unknown keywords but not about its own style rule that a bound needs a `type`
 * beside it (`allOf` of a type and a bound is valid JSON Schema).
 */
import { OpenApi } from "@effect/platform"
import { AnnalApi, WILDCARD_PARAMETER } from "@annal/spec"
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js"

type Json = Record<string, any>

/** The document `/openapi.json` serves. */
export const document: Json = OpenApi.fromApi(AnnalApi)

const COMPONENTS = "annal:openapi"

/** `#/components/schemas/X` → the copy of the components Ajv holds. */
const rebase = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(rebase)
  if (typeof value !== "object" || value === null) return value
  const out: Json = {}
  for (const [k, v] of Object.entries(value)) {
    out[k] = k === "$ref" && typeof v === "string" ? v.replace("#/components/schemas/", `${COMPONENTS}#/$defs/`) : rebase(v)
  }
  return out
}

const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, validateFormats: false })
ajv.addSchema({ $id: COMPONENTS, $defs: rebase(document.components.schemas) })

interface Operation {
  readonly template: string
  readonly pattern: RegExp
  readonly params: number
  readonly methods: Json
}

/** The document's paths as patterns, literal segments before parameters (`/personas/active` before `/personas/{id}`). */
const operations: ReadonlyArray<Operation> = Object.entries<Json>(document.paths)
  .map(([template, methods]) => {
    const segments = template.split("/").map((s) => {
      if (!/^\{.+\}$/.test(s)) return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
      // the workspace's `{path}` is the router's `*`: any depth
      return s === `{${WILDCARD_PARAMETER}}` && template.endsWith(s) ? ".+" : "[^/]+"
    })
    return { template, pattern: new RegExp(`^${segments.join("/")}/?$`), params: (template.match(/\{/g) ?? []).length, methods }
  })
  .sort((a, b) => a.params - b.params)

/** The statuses every operation declares: what may come before routing (429, 413, …), so also for a path no route has. */
const everywhere: ReadonlySet<string> = new Set(
  Object.values<Json>(document.paths)
    .flatMap((methods) => Object.values<Json>(methods).map((op) => Object.keys(op.responses)))
    .reduce((common, statuses) => common.filter((s) => statuses.includes(s)))
)

const validators = new Map<string, ValidateFunction>()

const validatorFor = (key: string, schema: Json): ValidateFunction => {
  let validate = validators.get(key)
  if (validate === undefined) {
    validate = ajv.compile(rebase(schema) as Json)
    validators.set(key, validate)
  }
  return validate
}

const mediaType = (contentType: string | null) => (contentType ?? "").split(";")[0]!.trim().toLowerCase()

/** What a response is: enough to check it against the document. */
export interface Observed {
  readonly method: string
  /** The request's path and query, as sent. */
  readonly url: string
  readonly status: number
  readonly headers: Headers
  /** The body as text; undefined when it was not read (a stream). */
  readonly body: string | undefined
}

const fail = (observed: Observed, what: string) =>
  new Error(`response does not match /openapi.json: ${observed.method} ${observed.url.slice(0, 300)} → ${observed.status}: ${what}\nbody: ${(observed.body ?? "(not read)").slice(0, 400)}`)

const checkJson = (observed: Observed, key: string, schema: Json) => {
  if (observed.body === undefined) return
  let value: unknown
  try {
    value = JSON.parse(observed.body)
  } catch {
    throw fail(observed, "the body is not JSON")
  }
  const validate = validatorFor(key, schema)
  if (!validate(value)) throw fail(observed, ajv.errorsText(validate.errors, { dataVar: "body" }))
}

/**
 * Checks one response against the document; throws naming the mismatch. A path outside the
 * API (the web UI, /docs) is not the document's; a method a path lacks must be 405 (or a status
 * every route declares) with an `{"error"}` body.
 */
export const checkResponse = (observed: Observed): void => {
  // the router ends a path at `?` and at `;` (find-my-way's parameter delimiter)
  const path = observed.url.split("?")[0]!.split(";")[0]!
  const operation = operations.find((o) => o.pattern.test(path))
  if (operation === undefined) {
    if (!path.startsWith("/api/") && path !== "/api") return
    if (observed.status !== 404 && !everywhere.has(String(observed.status))) throw fail(observed, "a path no route has answers 404")
    return checkJson(observed, "error", { $ref: "#/components/schemas/BadRequest" })
  }
  const method = observed.method.toLowerCase() === "head" ? "get" : observed.method.toLowerCase()
  const op: Json | undefined = operation.methods[method]
  if (op === undefined) {
    if (observed.status === 405) {
      const allow = observed.headers.get("allow") ?? ""
      const declared = Object.keys(operation.methods).map((m) => m.toUpperCase())
      for (const m of declared) if (!allow.split(/,\s*/).includes(m)) throw fail(observed, `405's Allow (${allow}) lacks ${m}`)
    } else if (observed.status === 404 || !everywhere.has(String(observed.status))) {
      throw fail(observed, `${operation.template} has no ${observed.method}: expected 405`)
    }
    return checkJson(observed, "error", { $ref: "#/components/schemas/BadRequest" })
  }
  const response: Json | undefined = op.responses[String(observed.status)]
  if (response === undefined) throw fail(observed, `status ${observed.status} is not declared (declared: ${Object.keys(op.responses).join(", ")})`)
  if (observed.method.toUpperCase() === "HEAD" || observed.status === 101) return
  const content: Json | undefined = response.content
  if (content === undefined) return
  const type = mediaType(observed.headers.get("content-type"))
  const declared = Object.keys(content).find((t) => mediaType(t) === type)
  if (declared === undefined) throw fail(observed, `Content-Type ${type || "(none)"} is not declared (declared: ${Object.keys(content).join(", ")})`)
  // a schema with no constraint (a workspace file's bytes) promises nothing to parse
  const schema: Json = content[declared].schema ?? {}
  const constrains = Object.keys(schema).some((k) => k !== "description" && k !== "title")
  if (type === "application/json" && constrains) checkJson(observed, `${operation.template} ${method} ${observed.status}`, schema)
}

/** Whether a response's body can be read whole before the test reads it (not a stream). */
export const readable = (status: number, headers: Headers) => status !== 101 && mediaType(headers.get("content-type")) !== "text/event-stream"
